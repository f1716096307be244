"""Every bad submission gets a 4xx problem naming the field, and leaves nothing behind."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select, update

from api import create_app
from shared.db import job_store
from shared.db.api_key import ApiKey
from shared.db.job import Job
from shared.db.session import session_factory
from shared.settings import Settings
from shared.storage import open_storage
from tests.support import png_bytes
from tests.support.api import RecordingSender, submit


def files(content: bytes | None = None, styles: list[bytes] | None = None) -> dict:
    data: dict = {}
    if content is not None:
        data["content"] = (io.BytesIO(content), "content.png")
    if styles is not None:
        data["style"] = [(io.BytesIO(s), f"style{n}.png") for n, s in enumerate(styles)]
    return data


def jobs_in_db(settings: Settings) -> int:
    with session_factory(settings.database_url)() as session:
        return session.scalar(select(func.count()).select_from(Job))


def stored_files(settings: Settings) -> list[Path]:
    root = Path(settings.storage_url.removeprefix("file://"))
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


TRUNCATED_JPEG = png_bytes(64, 64, fmt="JPEG")[:-200]

CASES = [
    ("missing content", files(None, [png_bytes()]), "content", 422),
    ("no style", files(png_bytes(), None), "style", 422),
    ("not an image", files(b"hello, not an image", [png_bytes()]), "content", 422),
    ("empty file", files(png_bytes(), [b""]), "style[1]", 422),
    ("truncated jpeg", files(TRUNCATED_JPEG, [png_bytes()]), "content", 422),
    ("too many styles", files(png_bytes(), [png_bytes()] * 4), "style", 422),
    ("too many pixels", files(png_bytes(400, 300), [png_bytes()]), "content", 422),
    (
        "two content files",
        {
            "content": [(io.BytesIO(png_bytes()), "a.png"), (io.BytesIO(png_bytes()), "b.png")],
            "style": (io.BytesIO(png_bytes()), "s.png"),
        },
        "content",
        422,
    ),
    (
        "unknown file field",
        {**files(png_bytes(), [png_bytes()]), "mask": (io.BytesIO(png_bytes()), "m.png")},
        "mask",
        422,
    ),
]

PARAM_CASES = [
    ("unknown parameter", {"params": json.dumps({"colour": "red"})}, "colour"),
    ("out of range", {"params": json.dumps({"iterations": 0})}, "iterations"),
    ("out of range form", {"max_size": "99999"}, "max_size"),
    ("wrong type", {"params": json.dumps({"seed": "abc"})}, "seed"),
    ("bad enum", {"optimizer": "sgd"}, "optimizer"),
    ("bad edge padding", {"edge_padding": "reflect"}, "edge_padding"),
    ("grid jitter too wide", {"grid_jitter": "17"}, "grid_jitter"),
    ("grid jitter not whole px", {"params": json.dumps({"grid_jitter": 2.5})}, "grid_jitter"),
    ("negative weight", {"laplacian_weight": "-0.1"}, "laplacian_weight"),
    ("negative palette weight", {"palette_weight": "-1"}, "palette_weight"),
    ("gram weight not a number", {"gram_weight": "lots"}, "gram_weight"),
    ("gram weight too large", {"gram_weight": "1e12"}, "gram_weight"),
    ("bad layer", {"style_layers": "block9_conv9"}, "style_layers"),
    ("malformed json", {"params": "{not json"}, "params"),
    ("json not an object", {"params": "[1, 2]"}, "params"),
    ("params and form fields", {"params": "{}", "iterations": "5"}, "params"),
    ("blend length", {"style_blend": "1,2"}, "style_blend"),
    ("pyramid too deep", {"params": json.dumps({"max_size": 64, "scales": 4})}, "params"),
    ("bad webhook", {"webhook_url": "not a url"}, "webhook_url"),
    ("webhook to loopback", {"webhook_url": "http://127.0.0.1:9/hook"}, "webhook_url"),
    ("webhook to metadata", {"webhook_url": "http://169.254.169.254/latest"}, "webhook_url"),
    ("webhook to private", {"webhook_url": "https://10.0.0.8/hook"}, "webhook_url"),
    ("webhook to localhost", {"webhook_url": "http://localhost:8000/hook"}, "webhook_url"),
    ("webhook ftp", {"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
    ("unknown webhook event", {"webhook_events": "running,finished"}, "webhook_events"),
    ("webhook event twice", {"webhook_events": "running,running"}, "webhook_events"),
    ("scalar given twice", {"iterations": ["5", "6"]}, "iterations"),
]


def assert_nothing_left(settings: Settings, sender: RecordingSender) -> None:
    assert jobs_in_db(settings) == 0
    assert stored_files(settings) == []
    assert sender.sent == []


@pytest.mark.parametrize(("name", "data", "field", "status"), CASES, ids=[c[0] for c in CASES])
def test_bad_files(
    client: FlaskClient,
    auth: dict,
    settings: Settings,
    sender: RecordingSender,
    name: str,
    data: dict,
    field: str,
    status: int,
) -> None:
    response = client.post("/v1/jobs", headers=auth, data=data)
    assert response.status_code == status, response.get_json()
    assert response.mimetype == "application/problem+json"
    body = response.get_json()
    assert body["status"] == status and body["title"] and body["type"].startswith("https://")
    assert field in [error["field"] for error in body["errors"]]
    assert_nothing_left(settings, sender)


@pytest.mark.parametrize(("name", "form", "field"), PARAM_CASES, ids=[c[0] for c in PARAM_CASES])
def test_bad_params(
    client: FlaskClient,
    auth: dict,
    settings: Settings,
    sender: RecordingSender,
    name: str,
    form: dict,
    field: str,
) -> None:
    data = {**files(png_bytes(), [png_bytes()]), **form}
    response = client.post("/v1/jobs", headers=auth, data=data)
    assert response.status_code == 422, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert field in [error["field"] for error in response.get_json()["errors"]]
    assert_nothing_left(settings, sender)


def test_out_of_range_names_the_range(client: FlaskClient, auth: dict) -> None:
    data = {**files(png_bytes(), [png_bytes()]), "iterations": "0"}
    message = client.post("/v1/jobs", headers=auth, data=data).get_json()["errors"][0]["message"]
    assert "1 <= iterations <= 5000" in message


def test_upload_over_limit_is_413(
    client: FlaskClient, auth: dict, settings: Settings, sender: RecordingSender
) -> None:
    big = png_bytes() + b"\0" * 300_000
    response = client.post("/v1/jobs", headers=auth, data=files(big, [png_bytes()]))
    assert response.status_code == 413
    assert response.mimetype == "application/problem+json"
    assert response.get_json()["errors"][0]["field"] == "upload"
    assert "200000-byte" in response.get_json()["detail"]
    assert_nothing_left(settings, sender)


def test_every_bad_field_is_listed_at_once_and_images_only_after_the_parameters(
    client: FlaskClient, auth: dict, settings: Settings, sender: RecordingSender
) -> None:
    data = {**files(None, [png_bytes(), b"GIF89a broken"]), "iterations": "0", "colour": "red"}
    response = client.post("/v1/jobs", headers=auth, data=data)
    assert response.status_code == 422
    fields = {error["field"] for error in response.get_json()["errors"]}
    assert fields == {"iterations", "colour", "content"}, "no image is decoded before params pass"
    data = {**files(png_bytes(), [png_bytes(), b"GIF89a broken", b"not at all"])}
    fields = {
        e["field"] for e in client.post("/v1/jobs", headers=auth, data=data).get_json()["errors"]
    }
    assert fields == {"style[2]", "style[3]"}
    assert_nothing_left(settings, sender)


def test_list_fields_take_repeats_or_commas(client: FlaskClient, auth: dict) -> None:
    data = {
        **files(png_bytes(), [png_bytes(), png_bytes()]),
        "style_blend": ["1", "2"],
        "style_layers": "block1_conv1, block3_conv1",
    }
    params = client.post("/v1/jobs", headers=auth, data=data).get_json()["params"]
    assert params["style_blend"] == [1.0, 2.0]
    assert params["style_layers"] == ["block1_conv1", "block3_conv1"]


def test_not_multipart_is_415(
    client: FlaskClient, auth: dict, settings: Settings, sender: RecordingSender
) -> None:
    response = client.post("/v1/jobs", headers=auth, json={"iterations": 5})
    assert response.status_code == 415
    assert response.mimetype == "application/problem+json"
    assert_nothing_left(settings, sender)


def test_bad_idempotency_key(
    client: FlaskClient, auth: dict, settings: Settings, sender: RecordingSender
) -> None:
    headers = {**auth, "Idempotency-Key": "k" * 300}
    response = client.post("/v1/jobs", headers=headers, data=files(png_bytes(), [png_bytes()]))
    assert response.status_code == 422
    assert response.get_json()["errors"][0]["field"] == "Idempotency-Key"
    assert_nothing_left(settings, sender)


def test_broker_down_still_accepts_the_job_for_the_reaper(
    client: FlaskClient,
    auth: dict,
    settings: Settings,
    sender: RecordingSender,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sender.fail = True
    response = client.post("/v1/jobs", headers=auth, data=files(png_bytes(), [png_bytes()]))
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["id"]
    listed = client.get("/v1/jobs", headers=auth).get_json()["jobs"]
    assert [job["status"] for job in listed] == ["queued"]
    with session_factory(settings.database_url)() as session:
        job = job_store.get_job(session, uuid.UUID(job_id))
        assert job is not None and job.sent_at is None, "marked for the reaper to send"
    assert open_storage(settings).exists(job.content_key), "its inputs are kept"
    assert f"job {job_id} accepted, not sent" in caplog.text


def test_the_type_comes_from_the_bytes_not_the_name_or_content_type(
    client: FlaskClient, auth: dict, settings: Settings
) -> None:
    gif = io.BytesIO()
    Image.new("RGB", (20, 20), (0, 0, 255)).save(gif, format="GIF")
    data = {
        "content": (io.BytesIO(png_bytes(32, 24)), "holiday.jpg", "image/jpeg"),
        "style": (io.BytesIO(gif.getvalue()), "style.png", "image/png"),
    }
    response = client.post("/v1/jobs", headers=auth, data=data)
    assert response.status_code == 202, response.get_data(as_text=True)
    job_id = response.get_json()["id"]
    storage = open_storage(settings)
    assert storage.exists(f"jobs/{job_id}/content.png")
    assert storage.exists(f"jobs/{job_id}/style-1.gif")
    assert not storage.exists(f"jobs/{job_id}/content.jpg")


def test_a_webhook_to_a_private_address_names_it_and_the_allow_list(
    client: FlaskClient, auth: dict
) -> None:
    response = submit(client, auth, webhook_url="http://192.168.1.20/hook")
    assert response.status_code == 422
    [error] = response.get_json()["errors"]
    assert error["field"] == "webhook_url"
    assert "192.168.1.20, a private address" in error["message"]
    assert "STYLIZE_WEBHOOK_ALLOW" in error["message"]


def test_an_allowed_webhook_is_stored_with_its_events(
    settings: Settings, sender: RecordingSender, auth: dict
) -> None:
    allowing = create_app(
        settings.model_copy(update={"webhook_allow": "127.0.0.1"}), task_sender=sender
    )
    response = submit(
        allowing.test_client(),
        auth,
        webhook_url="http://127.0.0.1:9/hook",
        webhook_events="running,completed",
    )
    assert response.status_code == 202, response.get_json()
    params = response.get_json()["params"]
    assert params["webhook_url"] == "http://127.0.0.1:9/hook"
    assert params["webhook_events"] == ["running", "completed"]


def test_a_key_without_a_webhook_secret_cannot_ask_for_webhooks(
    settings: Settings, sender: RecordingSender, auth: dict
) -> None:
    with session_factory(settings.database_url)() as session:
        session.execute(update(ApiKey).values(webhook_secret=None))  # a key from before 0003
        session.commit()
    allowing = create_app(
        settings.model_copy(update={"webhook_allow": "127.0.0.1"}), task_sender=sender
    )
    response = submit(allowing.test_client(), auth, webhook_url="http://127.0.0.1:9/hook")
    assert response.status_code == 422
    assert "stylize keys create" in response.get_json()["errors"][0]["message"]
    assert sender.sent == []
