"""``facematch blobs init|check``: set up and check the image store of ``FACEMATCH_BLOBS__BACKEND``.

``init`` creates the S3 bucket when it is missing (a deploy step, like ``facematch db upgrade``; the
service itself never creates it), then checks the store as ``check`` does: one sealed probe object
is written, read back and deleted with the configured credentials.
"""

from __future__ import annotations

import argparse
import secrets
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("blobs", help="set up and check the image store")
    commands = parser.add_subparsers(dest="blobs_command", metavar="COMMAND", required=True)
    init = commands.add_parser("init", help="create the S3 bucket if it is missing, then check the store")
    init.set_defaults(func=run_init)
    check = commands.add_parser("check", help="write, read and delete a probe object in the image store")
    check.set_defaults(func=run_check)


def _where(settings: Any) -> str:
    if settings.blobs.backend == "file":
        return f"file store {settings.data_dir / 'blobs'}"
    s3 = settings.blobs.s3
    return f"bucket {s3.bucket!r}" + (f" (prefix {s3.prefix!r})" if s3.prefix else "")


def _round_trip(store: Any) -> None:
    from facematch.errors import BlobStoreUnavailableError

    probe = b"facematch probe " + secrets.token_bytes(16)
    blob_id = store.put(probe)
    try:
        if store.get(blob_id) != probe:
            raise BlobStoreUnavailableError("the image store returned other bytes than were written")
    finally:
        store.delete(blob_id)


def run_init(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.services import blob_store
    from facematch.storage.blobs.s3 import S3BlobStore

    settings = get_settings()
    store = blob_store(settings)
    if isinstance(store, S3BlobStore):
        created = store.create_bucket()
        print(f"{'created' if created else 'found'} bucket {settings.blobs.s3.bucket!r}")
    _round_trip(store)
    print(f"{_where(settings)}: write, read and delete work")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from facematch.config import get_settings
    from facematch.services import blob_store

    settings = get_settings()
    store = blob_store(settings)
    store.check()
    _round_trip(store)
    print(f"{_where(settings)}: write, read and delete work")
    return 0
