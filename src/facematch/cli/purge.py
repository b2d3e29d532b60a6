"""``facematch purge [--days N]``: delete stored images older than the retention (results stay)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("purge", help="delete images past their retention time")
    parser.add_argument("--days", type=int, default=None, help="override blobs.retention_days")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.flows.retention import purge_images
    from facematch.worker.runtime import build_services

    settings = get_settings()
    days = settings.blobs.retention_days if args.days is None else args.days
    svc = build_services(settings)
    try:
        count = purge_images(svc, days=days)
    finally:
        svc.db.dispose()
    print(f"purged images of {count} submissions older than {days} days")
    return 0
