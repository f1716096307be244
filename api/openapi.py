"""The OpenAPI 3.1 document, with the parameter schema generated from JobParams."""

from __future__ import annotations

from typing import Any

from shared.db.job import FailureCode
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
EVENTS = (
    "text/event-stream. `event: status` ({status, error?: JobError}) first, then `progress` "
    "({iteration, total, percent, losses, ms_per_iter, eta_s}), `preview` ({iteration}) and "
    "`status` events as they happen, `: keepalive` comments on silence; the stream closes "
    "after a succeeded, failed or canceled status."
)


def _op(summary: str, ok: dict[str, str], *codes: str, **extra: Any) -> dict[str, Any]:
    responses: dict[str, Any] = {code: {"description": text} for code, text in ok.items()}
    responses.update({code: PROBLEM for code in codes})
    return {"summary": summary, "security": [{"bearer": []}], "responses": responses, **extra}


JOB_ID = [
    {
        "name": "job_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "format": "uuid"},
    }
]


def openapi_document() -> dict[str, Any]:
    """The spec served at /openapi.json."""
    params_schema = JobParams.model_json_schema(ref_template="#/components/schemas/{model}")
    definitions = params_schema.pop("$defs", {})
    submit_body = {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["content", "style"],
                "properties": {
                    "content": {"type": "string", "format": "binary"},
                    "style": {"type": "array", "items": {"type": "string", "format": "binary"}},
                    "params": {
                        "type": "string",
                        "description": "JSON object of JobParams (or send them as "
                        "form fields, not both)",
                    },
                },
            }
        }
    }
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
                    "Submit a job",
                    {
                        "202": "queued; Location names the job",
                        "200": "the job first made with this Idempotency-Key and request",
                    },
                    "401",
                    "409",
                    "413",
                    "415",
                    "422",
                    "429",
                    "503",
                    requestBody={"required": True, "content": submit_body},
                    parameters=[
                        {
                            "name": "Idempotency-Key",
                            "in": "header",
                            "schema": {"type": "string", "maxLength": 255},
                        }
                    ],
                ),
                "get": _op(
                    "List your jobs, newest first",
                    {"200": "{jobs: [job], next_cursor}"},
                    "401",
                    "422",
                    parameters=[
                        {"name": "status", "in": "query", "schema": {"type": "string"}},
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                ),
            },
            "/v1/jobs/{job_id}": {
                "get": _op(
                    "A job's status and progress",
                    {"200": "the job; `error` is a JobError once it failed"},
                    "401",
                    "404",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/cancel": {
                "post": _op(
                    "Cancel a job",
                    {"200": "canceled", "202": "running; stops within one iteration"},
                    "401",
                    "404",
                    "409",
                    "503",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/result": {
                "get": _op(
                    "The result image",
                    {"200": "image/png or image/jpeg, per output_format"},
                    "401",
                    "404",
                    "409",
                    parameters=JOB_ID,
                )
            },
            "/v1/jobs/{job_id}/preview": {
                "get": _op(
                    "The latest preview", {"200": "image/png"}, "401", "404", parameters=JOB_ID
                )
            },
            "/v1/jobs/{job_id}/events": {
                "get": _op(
                    "Server-Sent Events", {"200": EVENTS}, "401", "404", "503", parameters=JOB_ID
                )
            },
            "/healthz": {
                "get": {"summary": "Liveness", "responses": {"200": {"description": "up"}}}
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness",
                    "responses": {"200": {"description": "ready"}, "503": PROBLEM},
                }
            },
        },
        "components": {
            "schemas": {
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
