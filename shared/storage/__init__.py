"""Object storage for inputs, previews and results: one interface, local and S3 backends."""

from shared.storage.base import ObjectNotFound, Storage, StorageError, open_storage

__all__ = ["ObjectNotFound", "Storage", "StorageError", "open_storage"]
