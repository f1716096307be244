"""PostgreSQL away (its connections cut, or the server down): the API answers 503 problems,
never 500, loses nothing, and recovers by itself. The server going down is a TCP proxy in front
of the shared PostgreSQL being stopped; only this test's own database is touched."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask.testing import FlaskClient
from sqlalchemy.engine import make_url

from api import create_app
from migrations import upgrade
from shared.api_keys import create_key
from shared.db.session import session_factory
from shared.settings import Settings
from tests.support import PG_ADMIN_URL, TcpProxy, png_bytes, postgres_database, wait_until
from tests.support.api import REDIS_URL, RecordingSender

pytestmark = pytest.mark.integration


@pytest.fixture
def proxied(tmp_path: Path) -> Iterator[tuple[FlaskClient, dict[str, str], TcpProxy, str]]:
    with postgres_database("stylize_outage") as url:
        upgrade(url)
        with session_factory(url)() as session:
            _, secret = create_key(session, "outage")
        proxy = TcpProxy("127.0.0.1", 5432)
        proxy.start()
        through_proxy = url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        settings = Settings(
            database_url=through_proxy,
            storage_url=f"file://{tmp_path / 'storage'}",
            broker_url=REDIS_URL,
            auth_cache_s=0,  # every request asks the database for its key, as in an outage
        )
        client = create_app(settings, task_sender=RecordingSender()).test_client()
        try:
            yield client, {"Authorization": f"Bearer {secret}"}, proxy, url
        finally:
            proxy.stop()
            for factory_url in (url, through_proxy):
                session_factory(factory_url).kw["bind"].dispose()
            session_factory.cache_clear()


def submit(client: FlaskClient, headers: dict[str, str]) -> int:
    data = {
        "content": (io.BytesIO(png_bytes(32, 24)), "c.png"),
        "style": (io.BytesIO(png_bytes(16, 16, (0, 0, 255))), "s.png"),
    }
    return client.post("/v1/jobs", headers=headers, data=data).status_code


def test_connections_cut_are_survived(
    proxied: tuple[FlaskClient, dict[str, str], TcpProxy, str],
) -> None:
    client, headers, _, url = proxied
    assert submit(client, headers) == 202
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (make_url(url).database,),
        )
    response = client.get("/v1/jobs", headers=headers)
    assert response.status_code in (200, 503), response.get_data(as_text=True)
    wait_until(
        lambda: client.get("/v1/jobs", headers=headers).status_code == 200,
        60,
        "the API answering again",
    )
    assert len(client.get("/v1/jobs", headers=headers).get_json()["jobs"]) == 1


def test_server_down_is_503_and_it_recovers_by_itself(
    proxied: tuple[FlaskClient, dict[str, str], TcpProxy, str], tmp_path: Path
) -> None:
    client, headers, proxy, _ = proxied
    assert client.get("/v1/jobs", headers=headers).status_code == 200
    proxy.stop()
    for response in (
        client.get("/v1/jobs", headers=headers),
        client.get("/v1/jobs/7f0c1d5e-0000-4000-8000-000000000000", headers=headers),
        client.post("/v1/jobs", headers=headers, data={}),
    ):
        assert response.status_code == 503, response.get_data(as_text=True)
        assert response.mimetype == "application/problem+json"
        assert response.headers["Retry-After"] and "Traceback" not in response.get_data(True)
    assert submit(client, headers) == 503
    assert not [p for p in (tmp_path / "storage").rglob("*") if p.is_file()], "nothing stored"
    ready = client.get("/readyz")
    assert ready.status_code == 503 and "database" in ready.get_json()["detail"]
    proxy.start()
    wait_until(
        lambda: client.get("/v1/jobs", headers=headers).status_code == 200,
        60,
        "the API answering again",
    )
    assert submit(client, headers) == 202
