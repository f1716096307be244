"""The OpenAPI 3.1 document. Its schemas come from the models the routes use: the job
document (``Job``), the job parameters, the list's query and the Idempotency-Key."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from api.request_models import IDEMPOTENCY_KEY, ListQuery
from shared.db.job_store import CURSOR_PATTERN
from shared.images import INPUT_EXTENSIONS
from shared.job_document import JobDocument
from shared.params import JobParams

REF = "#/components/schemas/{model}"

PROBLEM = {"$ref": "#/components/responses/Problem"}


PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What went wrong and what to change."},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
JOB_LIST_SCHEMA = {
    "type": "object",
    "required": ["jobs", "next_cursor"],
    "properties": {
        "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
        "next_cursor": {"type": ["string", "null"], "pattern": CURSOR_PATTERN},
    },
}
JOB_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}
JOB_LIST_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/JobList"}}}
# The submit response links to every route of the job it made: clients (and the API fuzzer)
# follow them with the job's real id.
JOB_LINKS = {
    name: {"operationId": operation, "parameters": {"job_id": "$response.body#/id"}}
    for name, operation in (
        ("GetJob", "getJob"),
        ("CancelJob", "cancelJob"),
        ("GetResult", "getResult"),
        ("GetPreview", "getPreview"),
        ("GetEvents", "getEvents"),
        ("DeleteJob", "deleteJob"),
        ("ListDeliveries", "listDeliveries"),
    )
}
SSE_EVENT_SCHEMA = {
    "type": "object",
    "description": "One event of the stream (keepalive comments carry none).",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$", "description": "The iteration shown."},
        "event": {"enum": ["status", "progress", "preview"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
IMAGE_TYPES = ", ".join(f"image/{name.lower()}" for name in INPUT_EXTENSIONS)
EVENTS = (
    "text/event-stream. `event: status` (data: the Job) first, then `progress` (data: "
    "JobProgress and `at`), `preview` ({iteration}) and `status` events as they happen, "
    "`: keepalive` comments on silence; the stream closes after a succeeded, failed or canceled "
    "status, or after STYLIZE_EVENTS_MAX_S with a `retry:` line: reconnect with Last-Event-ID "
    "(the id of the last event) to go on without repeats. 429 beyond the key's open streams."
)
PREFER_WAIT = {
    "name": "Prefer",
    "in": "header",
    "description": "wait=N: answer when the job ends or after N seconds (capped by "
    "STYLIZE_MAX_WAIT_S), whichever is first; Preference-Applied says it was honoured. "
    "Other preferences are ignored, as RFC 7240 asks.",
    "schema": {"type": "string"},
}
DELIVERY_SCHEMA = {
    "type": "object",
    "required": ["id", "webhook_id", "event", "status", "attempts", "history"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "webhook_id": {"type": "string", "description": "The webhook-id header it is sent with."},
        "event": {"enum": ["job.running", "job.progress", "job.completed"]},
        "status": {"enum": ["pending", "delivered", "failed", "dropped"]},
        "attempts": {"type": "integer", "minimum": 0},
        "last_status_code": {"type": ["integer", "null"]},
        "last_error": {"type": ["string", "null"]},
        "created_at": {"type": "string", "format": "date-time"},
        "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
        "delivered_at": {"type": ["string", "null"], "format": "date-time"},
        "history": {
            "type": "array",
            "description": "The newest attempts: when, HTTP status or error, milliseconds.",
            "items": {"type": "object"},
        },
    },
}
DELIVERY_BODY = {"application/json": {"schema": {"$ref": "#/components/schemas/Delivery"}}}
DELIVERY_LIST_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["deliveries"],
            "properties": {
                "deliveries": {"type": "array", "items": {"$ref": "#/components/schemas/Delivery"}}
            },
        }
    }
}
ROTATION_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "properties": {"overlap_hours": {"type": "number", "minimum": 0, "maximum": 168}},
}
ROTATION_BODY = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["secret", "previous_valid_until"],
            "properties": {
                "secret": {"type": "string", "pattern": "^whsec_"},
                "previous_valid_until": {"type": ["string", "null"], "format": "date-time"},
            },
        }
    }
}


def _op(
    operation_id: str, summary: str, ok: dict[str, dict[str, Any]], *codes: str, **extra: Any
) -> dict[str, Any]:
    """An authenticated operation: its success responses, then problem responses by code."""
    responses: dict[str, Any] = dict(ok)
    responses.update({code: PROBLEM for code in ("401", *codes)})
    return {
        "operationId": operation_id,
        "summary": summary,
        "security": [{"bearer": []}],
        "responses": responses,
        **extra,
    }


def _ok(description: str, content: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"description": description, **({"content": content} if content else {}), **extra}


def _binary(*media_types: str) -> dict[str, Any]:
    return {media: {"schema": {"type": "string", "format": "binary"}} for media in media_types}


JOB_ID = [
    {
        "name": "job_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
]


def submit_body(max_styles: int) -> dict[str, Any]:
    """The multipart submission; ``style_blend`` must have one weight per style image."""
    one_weight_per_style = [
        {
            "properties": {
                "style": {"minItems": count, "maxItems": count},
                "params": {
                    "properties": {
                        "style_blend": {
                            "anyOf": [
                                {"type": "null"},
                                {"type": "array", "minItems": count, "maxItems": count},
                            ]
                        }
                    }
                },
            }
        }
        for count in range(1, max_styles + 1)
    ]
    return {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "description": "Parameters as one `params` JSON part; plain form fields, one per "
                "parameter (`-F iterations=100`), are accepted as a shorthand instead of it.",
                "required": ["content", "style"],
                "additionalProperties": False,
                "properties": {
                    "content": {"type": "string", "format": "binary"},
                    "style": {
                        "type": "array",
                        "minItems": 1,
                        "maxItems": max_styles,
                        "items": {"type": "string", "format": "binary"},
                    },
                    "params": {"$ref": "#/components/schemas/JobParams"},
                },
                "anyOf": one_weight_per_style,
            },
            "encoding": {
                "content": {"contentType": IMAGE_TYPES},
                "style": {"contentType": IMAGE_TYPES},
                "params": {"contentType": "application/json"},
            },
        }
    }


def model_schemas() -> dict[str, Any]:
    """The schemas of the models, by name; the job document is ``Job``."""
    _, generated = models_json_schema(
        [(JobParams, "validation"), (JobDocument, "serialization"), (ListQuery, "validation")],
        ref_template=REF,
    )
    schemas = generated["$defs"]
    schemas["Job"] = schemas.pop("JobDocument")
    return schemas


def list_parameters(schemas: dict[str, Any]) -> list[dict[str, Any]]:
    """``GET /v1/jobs``'s query parameters, from ListQuery."""
    query = schemas.pop("ListQuery")
    parameters = []
    for name, schema in query["properties"].items():
        options = [each for each in schema.get("anyOf", [schema]) if each.get("type") != "null"]
        parameters.append(
            {
                "name": name,
                "in": "query",
                "description": schema.get("description", ""),
                "schema": {key: value for key, value in options[0].items() if key != "title"},
            }
        )
    return parameters


def openapi_document(max_styles: int) -> dict[str, Any]:
    """The spec served at /openapi.json (``max_styles``: STYLIZE_MAX_STYLES)."""
    schemas = model_schemas()
    query = list_parameters(schemas)
    job_created = _ok(
        "queued; Location names the job",
        JOB_BODY,
        headers={"Location": {"schema": {"type": "string"}}},
        links=JOB_LINKS,
    )
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stylize",
            "version": "1",
            "description": "Neural style transfer as a job service.",
        },
        "paths": {
            "/v1": {
                "get": {
                    "summary": "Index: links to /docs, /openapi.json, /v1/jobs and the web page",
                    "responses": {"200": {"description": "{name, description, links, auth}"}},
                }
            },
            "/v1/jobs": {
                "post": _op(
                    "submitJob",
                    "Submit a job",
                    {
                        "202": job_created,
                        "201": _ok("ended within the Prefer: wait", JOB_BODY),
                        "200": _ok("the job first made with this Idempotency-Key", JOB_BODY),
                    },
                    "409",
                    "413",
                    "415",
                    "422",
                    "429",
                    "503",
                    "507",
                    requestBody={"required": True, "content": submit_body(max_styles)},
                    parameters=[
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "schema": IDEMPOTENCY_KEY.json_schema(),
                        },
                        PREFER_WAIT,
                    ],
                ),
                "get": _op(
                    "listJobs",
                    "List your jobs (an admin key: everyone's, with owner=all), newest first",
                    {"200": _ok("{jobs, next_cursor}", JOB_LIST_BODY)},
                    "403",
                    "422",
                    parameters=query,
                ),
            },
            "/v1/jobs/{job_id}": {
                "get": _op(
                    "getJob",
                    "A job's status and progress",
                    {"200": _ok("the job; `error` is a JobError once it failed", JOB_BODY)},
                    "404",
                    "429",
                    parameters=[*JOB_ID, PREFER_WAIT],
                ),
                "delete": _op(
                    "deleteJob",
                    "Delete a job and its images (a running job is canceled first)",
                    {
                        "204": _ok("deleted, images removed"),
                        "202": _ok("deleted; its images go once the running job has stopped"),
                    },
                    "404",
                    parameters=JOB_ID,
                ),
            },
            "/v1/jobs/{job_id}/cancel": {
                "post": _op(
                    "cancelJob",
                    "Cancel a job",
                    {
                        "200": _ok("canceled", JOB_BODY),
                        "202": _ok("running; stops within one iteration", JOB_BODY),
                    },
                    "404",
                    "409",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/result": {
                "get": _op(
                    "getResult",
                    "The result image",
                    {"200": _ok("per output_format", _binary("image/png", "image/jpeg"))},
                    "404",
                    "409",
                    "410",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/preview": {
                "get": _op(
                    "getPreview",
                    "The latest preview",
                    {"200": _ok("the latest preview", _binary("image/png"))},
                    "404",
                    "410",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/events": {
                "get": _op(
                    "getEvents",
                    "Server-Sent Events",
                    {"200": _ok(EVENTS, {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}})},
                    "404",
                    "429",
                    "503",
                    parameters=[
                        *JOB_ID,
                        {
                            "name": "Last-Event-ID",
                            "in": "header",
                            "description": "The id of the last event seen: resume after it.",
                            "schema": {"type": "string"},
                        },
                    ],
                )
            },
            "/v1/jobs/{job_id}/deliveries": {
                "get": _op(
                    "listDeliveries",
                    "The job's webhook deliveries, each with its attempts",
                    {"200": _ok("{deliveries}", DELIVERY_LIST_BODY)},
                    "404",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/deliveries/{delivery_id}/resend": {
                "post": _op(
                    "resendDelivery",
                    "Send a delivery again (same webhook-id)",
                    {"202": _ok("pending again", DELIVERY_BODY)},
                    "404",
                    parameters=[
                        *JOB_ID,
                        {
                            "name": "delivery_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "format": "uuid"},
                        },
                    ],
                )
            },
            "/v1/webhook-secret": {
                "post": _op(
                    "rotateWebhookSecret",
                    "A new webhook signing secret for this key (the old one signs too for "
                    "overlap_hours, default 24)",
                    {"201": _ok("{secret, previous_valid_until}", ROTATION_BODY)},
                    "422",
                    requestBody={"content": {"application/json": {"schema": ROTATION_SCHEMA}}},
                ),
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "summary": "Liveness",
                    "responses": {"200": {"description": "up"}},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Readiness",
                    "responses": {"200": {"description": "ready"}, "503": PROBLEM},
                }
            },
        },
        "components": {
            "schemas": {
                **schemas,
                "JobList": JOB_LIST_SCHEMA,
                "Delivery": DELIVERY_SCHEMA,
                "Problem": PROBLEM_SCHEMA,
            },
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Problem": {
                    "description": "RFC 9457 problem",
                    "content": {
                        "application/problem+json": {
                            "schema": {"$ref": "#/components/schemas/Problem"}
                        }
                    },
                }
            },
        },
    }
