"""``facematch purge [--days N] [--dry-run]``: delete stored images past their time (results stay)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("purge", help="delete images past their retention time")
    parser.add_argument("--days", type=int, default=None, help="override blobs.retention_days")
    parser.add_argument("--dry-run", action="store_true", help="report what would be deleted; delete nothing")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.flows.retention import purge_images
    from facematch.services import build_services

    settings = get_settings()
    days = settings.blobs.retention_days if args.days is None else args.days
    svc = build_services(settings)
    try:
        report = purge_images(svc, days=days, dry_run=args.dry_run)
    finally:
        svc.db.dispose()
    verb = "would delete" if report.dry_run else "deleted"
    print(f"{verb} the images of {report.decided} decided submissions older than {days} days")
    print(f"{verb} {report.unconfirmed} attempts never confirmed (with their images)")
    print(f"{verb} {report.orphans} stored images no submission refers to")
    return 0
