"""The embedded backend: sealed blobs as files under ``data_dir/blobs/<2 hex>/<blob id>`` (0600).

A write goes to ``<blob id>.tmp`` and is renamed into place, so a reader never sees half a blob; a
``.tmp`` left by a crash is listed by :meth:`EncryptedFileBlobStore.ids_older_than`, so the orphan
purge removes it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from facematch.errors import BlobNotFoundError, BlobStoreUnavailableError
from facematch.storage.blobs import BLOB_ID, new_blob_id, require_blob_id
from facematch.storage.blobs.envelope import BlobCipher


class EncryptedFileBlobStore:
    """Files sealed by ``cipher``; a failing disk (full, read-only, gone) is BlobStoreUnavailableError."""

    def __init__(self, root: Path, cipher: BlobCipher) -> None:
        self._root = root
        self._cipher = cipher
        root.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, blob_id: str) -> Path:
        return self._root / blob_id[:2] / require_blob_id(blob_id)

    def put(self, data: bytes) -> str:
        blob_id = new_blob_id()
        sealed = self._cipher.seal(blob_id, data)
        path = self._path(blob_id)
        tmp = path.with_suffix(".tmp")
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
                handle.write(sealed)
            tmp.replace(path)
        except OSError as error:
            tmp.unlink(missing_ok=True)
            raise BlobStoreUnavailableError(f"the image store could not write: {error.strerror}") from error
        return blob_id

    def get(self, blob_id: str) -> bytes:
        path = self._path(blob_id)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError() from None
        except OSError as error:
            raise BlobStoreUnavailableError(f"the image store could not read: {error.strerror}") from error
        return self._cipher.open(blob_id, raw)

    def delete(self, blob_id: str) -> None:
        path = self._path(blob_id)
        try:
            path.unlink(missing_ok=True)
            path.with_suffix(".tmp").unlink(missing_ok=True)
        except OSError as error:
            raise BlobStoreUnavailableError(f"the image store could not delete: {error.strerror}") from error

    def ids_older_than(self, cutoff: datetime) -> Iterator[str]:
        limit = cutoff.timestamp()
        for folder in sorted(self._root.iterdir()):
            if not folder.is_dir() or len(folder.name) != 2:
                continue
            for path in sorted(folder.iterdir()):
                blob_id = path.name.removesuffix(".tmp")
                if BLOB_ID.fullmatch(blob_id) and blob_id[:2] == folder.name:
                    with contextlib.suppress(FileNotFoundError):
                        if path.stat().st_mtime < limit:
                            yield blob_id

    def check(self) -> None:
        if not (self._root.is_dir() and os.access(self._root, os.W_OK | os.X_OK)):
            raise BlobStoreUnavailableError("the image directory is missing or not writable")
