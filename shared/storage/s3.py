"""S3-compatible storage on boto3 (AWS, MinIO) for multi-machine deployments (extra ``s3``)."""

from __future__ import annotations

from collections.abc import Iterator

from shared.storage.errors import ObjectNotFound, StorageError
from shared.storage.keys import check_key


class S3Storage:
    """Objects live in ``bucket`` under ``prefix``; PUTs are atomic by S3's nature."""

    blocks_thread = False  # network I/O only, which an event loop interleaves

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        *,
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key: str | None = None,
        secret_key: str | None = None,
    ) -> None:
        try:
            import boto3
            from botocore.config import Config
            from botocore.exceptions import BotoCoreError, ClientError
        except ImportError:
            raise StorageError(
                "s3:// storage needs the 's3' extra: pip install 'stylize[s3]'"
            ) from None
        self._errors = (BotoCoreError, ClientError)
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            # fail a readiness probe in seconds, not after botocore's 60 s default
            config=Config(connect_timeout=5, read_timeout=60, retries={"max_attempts": 3}),
        )

    def _name(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "404", "NotFound")

    def put(self, key: str, data: bytes) -> None:
        try:
            self._s3.put_object(Bucket=self.bucket, Key=self._name(key), Body=data)
        except self._errors as exc:
            raise StorageError(f"S3 put {key!r} failed: {exc}") from None

    def get(self, key: str) -> bytes:
        return b"".join(self.open(key))

    def open(self, key: str, chunk_size: int = 64 * 1024) -> Iterator[bytes]:
        try:
            body = self._s3.get_object(Bucket=self.bucket, Key=self._name(key))["Body"]
        except self._errors as exc:
            if self._missing(exc):
                raise ObjectNotFound(f"no object {key!r}") from None
            raise StorageError(f"S3 get {key!r} failed: {exc}") from None
        return body.iter_chunks(chunk_size)

    def exists(self, key: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self._name(key))
            return True
        except self._errors as exc:
            if self._missing(exc):
                return False
            raise StorageError(f"S3 head {key!r} failed: {exc}") from None

    def delete(self, key: str) -> None:
        try:
            self._s3.delete_object(Bucket=self.bucket, Key=self._name(key))
        except self._errors as exc:
            raise StorageError(f"S3 delete {key!r} failed: {exc}") from None

    def url(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._name(key)}"

    def free_bytes(self) -> int | None:
        return None

    def ping(self) -> bool:
        try:
            self._s3.head_bucket(Bucket=self.bucket)
            return True
        except self._errors:
            return False
