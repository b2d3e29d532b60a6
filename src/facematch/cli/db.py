"""``facematch db upgrade|current``: database migrations."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("db", help="database migrations")
    commands = parser.add_subparsers(dest="db_command", required=True)
    commands.add_parser("upgrade", help="migrate to the newest schema").set_defaults(func=upgrade)
    commands.add_parser("current", help="print the schema revision").set_defaults(func=current)


def upgrade(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.services import secret_box
    from facematch.storage.db import current_revision, migrate

    settings = get_settings()
    url = settings.database_url
    migrate(url, secret_box=secret_box(settings))
    print(f"database at revision {current_revision(url)}")
    return 0


def current(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.storage.db import current_revision

    print(current_revision(get_settings().database_url) or "not migrated")
    return 0
