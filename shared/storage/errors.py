"""What every storage backend raises."""


class StorageError(Exception):
    """A storage operation failed: missing object, bad key, or backend unreachable."""


class ObjectNotFound(StorageError):
    """The key does not exist."""
