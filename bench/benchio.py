"""Small helpers the engine benchmarks share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def save_json(path: Path | None, data: Any) -> None:
    """Write ``data`` to ``path`` now (a later crash keeps what was measured); None: do nothing."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")
