"""Storage backends: local (atomic, confined to its root) and S3 against a real HTTP endpoint."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from shared.settings import Settings
from shared.storage import ObjectNotFound, Storage, StorageError, open_storage
from shared.storage.keys import content_key, preview_key, result_key, style_key
from shared.storage.local import LocalStorage
from shared.storage.s3 import S3Storage

CREDENTIALS = {"access_key": "test", "secret_key": "test"}
ESCAPES = ["../evil", "a/../../evil", "/etc/passwd", "a//b", "a\\..\\b", "nul\x00", "", "./x", ".."]


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """A real S3 HTTP server (moto) on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def s3_storage(s3_endpoint: str) -> S3Storage:
    boto3.client(
        "s3",
        endpoint_url=s3_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
    ).create_bucket(Bucket="stylize")
    settings = Settings(
        storage_url="s3://stylize/prefix",
        s3_endpoint_url=s3_endpoint,
        s3_access_key="test",
        s3_secret_key="test",
    )
    backend = open_storage(settings)
    assert isinstance(backend, S3Storage)
    return backend


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, storage: LocalStorage) -> Storage:
    return storage if request.param == "local" else request.getfixturevalue("s3_storage")


def test_round_trip_stream_exists_delete(backend: Storage) -> None:
    data = bytes(range(256)) * 1000
    backend.put("jobs/1/content.png", data)
    assert backend.exists("jobs/1/content.png")
    assert backend.get("jobs/1/content.png") == data
    assert b"".join(backend.open("jobs/1/content.png", chunk_size=1000)) == data
    assert backend.url("jobs/1/content.png").endswith("jobs/1/content.png")
    backend.put("jobs/1/content.png", b"new")
    assert backend.get("jobs/1/content.png") == b"new"
    backend.delete("jobs/1/content.png")
    backend.delete("jobs/1/content.png")
    assert not backend.exists("jobs/1/content.png")
    with pytest.raises(ObjectNotFound):
        backend.get("jobs/1/content.png")
    assert backend.ping()


@pytest.mark.parametrize("key", ESCAPES)
def test_keys_cannot_escape(backend: Storage, key: str) -> None:
    with pytest.raises(StorageError):
        backend.put(key, b"x")


def test_local_writes_stay_under_root_and_leave_no_temp_files(tmp_path: Path) -> None:
    root = tmp_path / "root"
    local = LocalStorage(root)
    for key in ESCAPES:
        with pytest.raises(StorageError):
            local.put(key, b"x")
    local.put("a/b.png", b"data")
    assert not (tmp_path / "evil").exists()
    assert [p.name for p in root.rglob("*") if p.is_file()] == ["b.png"]


def test_local_refuses_symlink_out_of_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "link").symlink_to(tmp_path)
    with pytest.raises(StorageError):
        LocalStorage(root).put("link/escaped.png", b"x")
    assert not (tmp_path / "escaped.png").exists()


def test_local_files_are_readable_by_other_service_users(storage: LocalStorage) -> None:
    storage.put("jobs/1/result.png", b"x")
    assert (storage.root / "jobs/1/result.png").stat().st_mode & 0o777 == 0o644


def test_local_filesystem_errors_are_storage_errors(tmp_path: Path) -> None:
    local = LocalStorage(tmp_path / "root")
    local.put("a/b.png", b"x")
    with pytest.raises(StorageError):
        local.get("a")  # a directory, not an object
    with pytest.raises(StorageError):
        local.put("a/b.png/c.png", b"x")  # parent is a file
    (tmp_path / "file").write_bytes(b"")
    assert LocalStorage(tmp_path / "file" / "root").ping() is False


def test_s3_ping_is_false_for_missing_bucket_or_endpoint(s3_endpoint: str) -> None:
    assert S3Storage("no-such-bucket", endpoint_url=s3_endpoint, **CREDENTIALS).ping() is False
    closed = S3Storage("stylize", endpoint_url="http://127.0.0.1:9", **CREDENTIALS)
    assert closed.ping() is False


def test_open_storage_picks_local_for_file_urls(tmp_path: Path) -> None:
    backend = open_storage(Settings(storage_url=f"file://{tmp_path}/files"))
    assert isinstance(backend, LocalStorage) and backend.root == tmp_path / "files"


def test_job_object_keys() -> None:
    job_id = uuid.UUID(int=7)
    assert content_key(job_id, "jpg") == f"jobs/{job_id}/content.jpg"
    assert style_key(job_id, 2, "webp") == f"jobs/{job_id}/style-2.webp"
    assert preview_key(job_id, "png") == f"jobs/{job_id}/preview.png"
    assert result_key(str(job_id), "jpg", 2) == f"jobs/{job_id}/result-2.jpg"
    with pytest.raises(StorageError):
        result_key(job_id, "png/../../x", 1)
