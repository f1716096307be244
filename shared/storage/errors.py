"""What every storage backend raises."""


class StorageError(Exception):
    """A storage operation failed: missing object, bad key, or backend unreachable."""


class ObjectNotFound(StorageError):
    """The key does not exist."""


class StorageFull(StorageError):
    """No room: the disk (or quota) is full, or below the free space kept for the database."""
