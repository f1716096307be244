"""Local-filesystem storage: atomic writes (temp file + rename) under one root directory."""

from __future__ import annotations

import errno
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

from shared.storage.errors import ObjectNotFound, StorageError, StorageFull
from shared.storage.keys import check_key

FILE_MODE = 0o644  # mkstemp creates 0600; objects must be readable by every service user


class LocalStorage:
    """Objects are files under ``root``; a key never resolves outside it."""

    blocks_thread = True  # mkdir, write and fsync

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).resolve()

    def _path(self, key: str) -> Path:
        path = (self.root / check_key(key)).resolve()
        if not path.is_relative_to(self.root):  # a symlink inside the root pointing out
            raise StorageError(f"storage key {key!r} resolves outside the storage root")
        return path

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        with _os_errors("put", key):
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                    handle.flush()
                    os.fchmod(handle.fileno(), FILE_MODE)
                    os.fsync(handle.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise

    def get(self, key: str) -> bytes:
        path = self._path(key)
        with _os_errors("get", key):
            return path.read_bytes()

    def open(self, key: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        path = self._path(key)
        with _os_errors("open", key):
            handle = path.open("rb")
        return _chunks(handle, chunk_size)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        path = self._path(key)
        with _os_errors("delete", key):
            path.unlink(missing_ok=True)

    def url(self, key: str) -> str:
        return self._path(key).as_uri()

    def free_bytes(self) -> int | None:
        existing = next(path for path in (self.root, *self.root.parents) if path.exists())
        try:
            stats = os.statvfs(existing)
        except OSError:
            return None
        return stats.f_bavail * stats.f_frsize

    def ping(self) -> bool:
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError:
            return False
        return os.access(self.root, os.W_OK)


@contextmanager
def _os_errors(action: str, key: str) -> Iterator[None]:
    """Filesystem errors as ObjectNotFound / StorageError, like every other backend."""
    try:
        yield
    except FileNotFoundError:
        raise ObjectNotFound(f"no object {key!r}") from None
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
            raise StorageFull(f"local {action} {key!r}: {exc.strerror}") from None
        raise StorageError(f"local {action} {key!r} failed: {exc.strerror or exc}") from None


def _chunks(handle: BinaryIO, chunk_size: int) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(chunk_size):
            yield chunk
