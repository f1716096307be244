"""The client's models are checked against the job document's schema (shared/job_document.py,
the same one /openapi.json serves): every field the server sends is a typed field of the
client, of a compatible type, so the two cannot drift apart unnoticed."""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import BaseModel

from client.models import Job, JobError, Progress, Timings
from shared.db.base import utcnow
from shared.db.job import Job as JobRow
from shared.job_document import JobDocument, JobProgress, JobTimings, job_document
from shared.job_document import JobError as ServerError
from shared.params import JobParams

PAIRS: list[tuple[type[BaseModel], type[BaseModel]]] = [
    (JobDocument, Job),
    (JobProgress, Progress),
    (JobTimings, Timings),
    (ServerError, JobError),
]


def json_types(schema: dict[str, Any], defs: dict[str, Any]) -> set[str]:
    """The JSON types a property schema allows, following ``$ref`` into ``defs``."""
    if "$ref" in schema:
        return json_types(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "anyOf" in schema:
        return set().union(*(json_types(option, defs) for option in schema["anyOf"]))
    if "enum" in schema:
        return {"string"}
    if "oneOf" in schema:
        return {"string"}  # the failure codes: consts
    kind = schema.get("type", "string")
    return set(kind) if isinstance(kind, list) else {kind}


def test_every_server_field_is_a_client_field_of_a_compatible_type() -> None:
    for server, client in PAIRS:
        schema = server.model_json_schema(by_alias=True, mode="serialization")
        client_schema = client.model_json_schema()
        for name, prop in schema["properties"].items():
            assert name in client.model_fields, f"{client.__name__} lacks {name}"
            client_defs = client_schema.get("$defs", {})
            allowed = json_types(client_schema["properties"][name], client_defs) - {"null"}
            sent = json_types(prop, schema.get("$defs", {})) - {"null"}
            assert sent <= allowed | ({"integer"} if "number" in allowed else set()), (
                f"{client.__name__}.{name}: the server sends {sent}, the client takes {allowed}"
            )


def test_a_real_document_round_trips_through_the_client_without_extras() -> None:
    now = utcnow()
    row = JobRow(
        id=uuid.uuid4(),
        owner_id=uuid.uuid4(),
        status="failed",
        params=JobParams().model_dump(mode="json"),
        content_key="c",
        style_keys=["s"],
        total_iterations=200,
        iteration=20,
        attempts=1,
        created_at=now,
        started_at=now,
        finished_at=now,
        metrics={"warmup_s": 1.5},
        error_code="time_limit",
        error_message="too long",
        losses={"total": 1.0},
        ms_per_iter=10.0,
    )
    sent = job_document(row).model_dump(mode="json", by_alias=True)
    job = Job.model_validate(sent)
    assert job.model_extra == {} and job.progress.model_extra == {}
    assert job.timings.warmup_s == 1.5 and job.error.code == "time_limit"
    assert job.links["deliveries"].endswith("/deliveries")
