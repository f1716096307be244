"""Object storage for inputs, previews and results: one interface, local and S3 backends."""

from shared.storage.base import Storage, open_storage
from shared.storage.errors import ObjectNotFound, StorageError, StorageFull

__all__ = ["ObjectNotFound", "Storage", "StorageError", "StorageFull", "open_storage"]
