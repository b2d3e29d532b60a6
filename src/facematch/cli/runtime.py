"""What a command needs: the services of the configured deployment, closed when it is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def services() -> Iterator[Any]:
    """The services (settings from the environment; no engine loaded) for one command."""
    from facematch.config import get_settings
    from facematch.services import build_services

    svc = build_services(get_settings())
    try:
        yield svc
    finally:
        svc.close()
