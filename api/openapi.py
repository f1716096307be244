"""The OpenAPI 3.1 document, with the parameter schema generated from JobParams."""

from __future__ import annotations

from typing import Any

from shared.db.job import FailureCode, JobStatus
from shared.db.job_store import CURSOR_PATTERN
from shared.images import INPUT_EXTENSIONS
from shared.params import JobParams

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
JOB_ERROR_SCHEMA = {
    "type": "object",
    "description": "Why a job failed: its `error`, and that of its last `status` event.",
    "required": ["code", "message"],
    "properties": {
        "code": {
            "oneOf": [{"const": code.value, "description": code.meaning} for code in FailureCode]
        },
        "message": {"type": "string", "description": "What went wrong and what to do next."},
    },
}
NULLABLE_NUMBER = {"type": ["number", "null"]}
NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}
JOB_SCHEMA = {
    "type": "object",
    "required": ["id", "status", "params", "progress", "timings", "attempts", "error", "links"],
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "status": {"enum": [status.value for status in JobStatus]},
        "params": {"$ref": "#/components/schemas/JobParams"},
        "progress": {
            "type": "object",
            "required": ["iteration", "total", "percent", "losses", "ms_per_iter", "eta_s"],
            "properties": {
                "iteration": {"type": "integer", "minimum": 0},
                "total": {"type": "integer", "minimum": 1},
                "percent": {"type": "number", "minimum": 0, "maximum": 100},
                "losses": {"type": ["object", "null"], "additionalProperties": {"type": "number"}},
                "ms_per_iter": NULLABLE_NUMBER,
                "eta_s": NULLABLE_NUMBER,
            },
        },
        "timings": {
            "type": "object",
            "properties": {
                "created_at": {"type": "string", "format": "date-time"},
                "started_at": NULLABLE_TIME,
                "finished_at": NULLABLE_TIME,
                "queue_s": NULLABLE_NUMBER,
                "run_s": NULLABLE_NUMBER,
            },
        },
        "metrics": {"type": ["object", "null"]},
        "weights_source": {"type": ["string", "null"]},
        "worker": {"type": ["string", "null"]},
        "attempts": {"type": "integer", "minimum": 0},
        "error": {"oneOf": [{"$ref": "#/components/schemas/JobError"}, {"type": "null"}]},
        "links": {
            "type": "object",
            "required": ["self", "events", "cancel", "preview", "result"],
            "additionalProperties": {"type": "string"},
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
    )
}
SSE_EVENT_SCHEMA = {
    "type": "object",
    "description": "One event of the stream (keepalive comments carry none).",
    "required": ["id", "event", "data"],
    "properties": {
        "id": {"type": "string", "pattern": "^[0-9]+$"},
        "event": {"enum": ["status", "progress", "preview"]},
        "data": {"type": "string", "contentMediaType": "application/json"},
    },
}
IMAGE_TYPES = ", ".join(f"image/{name.lower()}" for name in INPUT_EXTENSIONS)
EVENTS = (
    "text/event-stream. `event: status` ({status, error?: JobError}) first, then `progress` "
    "({iteration, total, percent, losses, ms_per_iter, eta_s}), `preview` ({iteration}) and "
    "`status` events as they happen, `: keepalive` comments on silence; the stream closes "
    "after a succeeded, failed or canceled status."
)


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


def openapi_document(max_styles: int) -> dict[str, Any]:
    """The spec served at /openapi.json (``max_styles``: STYLIZE_MAX_STYLES)."""
    params_schema = JobParams.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = params_schema.pop("$defs", {})
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
                        "200": _ok("the job first made with this Idempotency-Key", JOB_BODY),
                    },
                    "409",
                    "413",
                    "415",
                    "422",
                    "429",
                    "503",
                    requestBody={"required": True, "content": submit_body(max_styles)},
                    parameters=[
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 255},
                        }
                    ],
                ),
                "get": _op(
                    "listJobs",
                    "List your jobs (an admin key: everyone's, with owner=all), newest first",
                    {
                        "200": _ok("{jobs, next_cursor}", JOB_LIST_BODY)
                    },
                    "403",
                    "422",
                    parameters=[
                        {
                            "name": "status",
                            "in": "query",
                            "schema": {"enum": [status.value for status in JobStatus]},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {
                            "name": "cursor",
                            "in": "query",
                            "description": "next_cursor of the previous page; empty: the first",
                            "schema": {
                                "type": "string",
                                "anyOf": [{"const": ""}, {"pattern": CURSOR_PATTERN}],
                            },
                        },
                        {
                            "name": "owner",
                            "in": "query",
                            "description": "me (default), or all: every key's jobs (admin keys)",
                            "schema": {"enum": ["me", "all"]},
                        },
                    ],
                ),
            },
            "/v1/jobs/{job_id}": {
                "get": _op(
                    "getJob",
                    "A job's status and progress",
                    {"200": _ok("the job; `error` is a JobError once it failed", JOB_BODY)},
                    "404",
                    parameters=JOB_ID,
                )
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
                    "503",
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
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/preview": {
                "get": _op(
                    "getPreview",
                    "The latest preview",
                    {"200": _ok("the latest preview", _binary("image/png"))},
                    "404",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/events": {
                "get": _op(
                    "getEvents",
                    "Server-Sent Events",
                    {"200": _ok(EVENTS, {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}})},
                    "404",
                    "503",
                    parameters=JOB_ID,
                )
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
                "Job": JOB_SCHEMA,
                "JobList": JOB_LIST_SCHEMA,
                "JobParams": params_schema,
                "JobError": JOB_ERROR_SCHEMA,
                "Problem": PROBLEM_SCHEMA,
                **definitions,
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
