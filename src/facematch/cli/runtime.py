"""What a command needs: the services of the configured deployment, built as the API and the worker
build theirs (:func:`facematch.services.build_services`), and closed when the command is done."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def services(settings: Any = None) -> Iterator[Any]:
    """The services (``settings``, else from the environment; no engine loaded) for one command."""
    from facematch.config import get_settings
    from facematch.services import build_services

    svc = build_services(settings or get_settings())
    try:
        yield svc
    finally:
        svc.close()
