"""Every error as ``application/problem+json`` (RFC 9457), Flask's own 404/405/413 included."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from flask import Flask, Response, current_app, jsonify
from pydantic import ValidationError
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)
PROBLEM_TYPE_BASE = "https://stylize.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"


class ApiProblem(Exception):
    """Raised by views; becomes a problem response naming what to change."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        *,
        errors: list[dict[str, str]] | None = None,
        headers: dict[str, str] | None = None,
        slug: str | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.headers = headers or {}
        self.slug = slug or title.lower().replace(" ", "-")


def invalid_request(errors: list[dict[str, str]]) -> ApiProblem:
    """A 422 listing every bad field (``{"field", "message"}``) of one request."""
    return ApiProblem(
        422,
        "Invalid request",
        "; ".join(f"{error['field']}: {error['message']}" for error in errors),
        errors=errors,
        slug="invalid-request",
    )


def validation_errors(
    exc: ValidationError,
    default_field: str = "request",
    describe_range: Callable[[str], str | None] = lambda _name: None,
    unknown: str = "unknown name; see /openapi.json for what this route takes",
) -> list[dict[str, str]]:
    """pydantic's errors as ``{"field", "message"}`` entries that say what is allowed."""
    found = []
    for error in exc.errors():
        field = str(error["loc"][0]) if error["loc"] else default_field
        if error["type"] == "extra_forbidden":
            message = unknown
        else:
            message = str(error["msg"]).removeprefix("Value error, ")
            allowed = describe_range(field)
            if allowed:
                message = f"{message} (allowed: {allowed})"
        found.append({"field": field, "message": message})
    return found


def field_error(field: str, message: str) -> ApiProblem:
    """A validation problem about one field."""
    return invalid_request([{"field": field, "message": message}])


def problem_response(problem: ApiProblem) -> Response:
    """Render ``problem`` as problem+json."""
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + problem.slug,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if problem.errors:
        body["errors"] = problem.errors
    response = jsonify(body)
    response.status_code = problem.status
    response.mimetype = PROBLEM_MEDIA_TYPE
    response.headers.update(problem.headers)
    return response


def _http_exception(exc: HTTPException) -> Response:
    status = exc.code or 500
    if status == 413:
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        message = f"the request is over the {limit}-byte upload limit; send smaller images"
        return problem_response(
            ApiProblem(413, exc.name, message, errors=[{"field": "upload", "message": message}])
        )
    detail = {
        404: "no such resource; check the URL (the API lives under /v1)",
        405: "this method is not allowed here; see /openapi.json for the allowed methods",
    }.get(status, exc.description or exc.name)
    headers = (
        {"Allow": exc.response.headers["Allow"]}
        if exc.response is not None and "Allow" in exc.response.headers
        else {}
    )
    if status == 405 and hasattr(exc, "valid_methods") and exc.valid_methods:
        headers["Allow"] = ", ".join(exc.valid_methods)
    return problem_response(ApiProblem(status, exc.name, detail, headers=headers))


def _database_unavailable(exc: Exception) -> Response:
    log.warning("database unavailable: %s", exc)
    return problem_response(
        ApiProblem(
            503,
            "Service Unavailable",
            "the database did not answer; retry shortly (an Idempotency-Key makes that safe)",
            headers={"Retry-After": "5"},
        )
    )


def _unexpected(exc: Exception) -> Response:
    log.exception("unhandled error", exc_info=exc)
    return problem_response(
        ApiProblem(
            500,
            "Internal Server Error",
            "the server hit an unexpected error; retry, and report it if it repeats",
        )
    )


def init_app(app: Flask) -> None:
    """Register the handlers that turn every error into problem+json."""
    app.register_error_handler(ApiProblem, problem_response)
    app.register_error_handler(HTTPException, _http_exception)
    for error in (OperationalError, InterfaceError, PoolTimeoutError):  # lost or refused
        app.register_error_handler(error, _database_unavailable)
    app.register_error_handler(Exception, _unexpected)
