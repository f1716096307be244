"""Parsing a job submission cheaply: parameters and the uploads' bytes, nothing decoded.

``parse_draft`` refuses a bad request before any image is looked at; the images are checked
afterwards (api/upload_checks.py), once the cheap limits have passed.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import Request
from pydantic import ValidationError

from api.errors import ApiProblem, invalid_request, validation_errors
from shared.params import JobParams
from shared.settings import Settings
from shared.webhooks.address import WebhookAddressError, check_webhook_url

LIST_FIELDS = frozenset(
    {"style_blend", "content_layers", "style_layers", "style_layer_weights", "webhook_events"}
)
FILE_FIELDS = frozenset({"content", "style"})


@dataclass(frozen=True)
class Draft:
    """A submission whose parameters are valid and whose uploads are not yet decoded."""

    params: JobParams
    content: bytes
    styles: list[bytes]
    request_hash: str


@dataclass(frozen=True)
class Upload:
    """An uploaded image that decoded cleanly: original bytes and a file extension."""

    data: bytes
    extension: str


@dataclass(frozen=True)
class Submission:
    """A validated job request whose images decoded cleanly."""

    params: JobParams
    content: Upload
    styles: list[Upload]
    request_hash: str


def parse_draft(request: Request, settings: Settings) -> Draft:
    """Validate the parameters and the presence and count of files; one 422 naming every bad
    field. No image is decoded here."""
    if request.mimetype != "multipart/form-data":
        raise ApiProblem(
            415,
            "Unsupported Media Type",
            "send multipart/form-data with a 'content' file, 'style' file(s) and parameters",
        )
    errors: list[dict[str, str]] = []
    params = parse_params(request, errors)
    content, styles = read_files(request, settings, errors)
    if params is not None and params.webhook_url is not None:
        try:
            check_webhook_url(str(params.webhook_url), settings.webhook_allow_list())
        except WebhookAddressError as exc:
            errors.append({"field": "webhook_url", "message": str(exc)})
    if params is not None and styles:
        try:
            params.check_style_count(len(styles))
        except ValueError as exc:
            errors.append({"field": "style_blend", "message": str(exc)})
    if errors or params is None or content is None or not styles:
        raise invalid_request(errors)
    digest = hashlib.sha256(params.model_dump_json().encode())
    for data in [content, *styles]:
        digest.update(hashlib.sha256(data).digest())
    return Draft(params, content, styles, digest.hexdigest())


def read_files(
    request: Request, settings: Settings, errors: list[dict[str, str]]
) -> tuple[bytes | None, list[bytes]]:
    """The uploads' bytes; each problem is appended to ``errors``."""
    for name in sorted(set(request.files) - FILE_FIELDS):
        errors.append({"field": name, "message": "unknown file field; send 'content' and 'style'"})
    contents = request.files.getlist("content")
    content = None
    if len(contents) != 1:
        errors.append({"field": "content", "message": "send exactly one content image"})
    else:
        content = contents[0].read()
    files = request.files.getlist("style")
    if not files:
        errors.append({"field": "style", "message": "send at least one style image"})
        return content, []
    if len(files) > settings.max_styles:
        message = f"{len(files)} style images; send at most {settings.max_styles} per job"
        errors.append({"field": "style", "message": message})
        return content, []
    return content, [upload.read() for upload in files]


def parse_params(request: Request, errors: list[dict[str, str]]) -> JobParams | None:
    """JobParams from the ``params`` JSON field or from plain form fields (not both)."""
    form_fields = {name for name in request.form if name != "params"}
    if "params" in request.form:
        raw = params_json(request.form["params"], form_fields, errors)
    else:
        raw = {name: form_value(request, name, errors) for name in form_fields}
    if raw is None:
        return None
    try:
        return JobParams.model_validate(raw)
    except ValidationError as exc:
        unknown = "unknown parameter; see /openapi.json for the parameters a job takes"
        errors.extend(validation_errors(exc, "params", field_range, unknown))
        return None


def params_json(
    text: str, form_fields: set[str], errors: list[dict[str, str]]
) -> dict[str, Any] | None:
    """The ``params`` field as a dict, or None after appending what is wrong with it."""
    message = None
    if form_fields:
        message = (
            "send parameters either as 'params' JSON or as form fields, not both "
            f"(also got {', '.join(sorted(form_fields))})"
        )
    elif not text.strip():
        return {}  # an empty params part: every parameter at its default
    else:
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            message = f"not valid JSON ({exc.msg} at position {exc.pos})"
        else:
            if isinstance(raw, dict):
                return raw
            message = "must be a JSON object of parameter names to values"
    errors.append({"field": "params", "message": message})
    return None


def form_value(request: Request, name: str, errors: list[dict[str, str]]) -> Any:
    """A form field's value; list fields take repeats or comma-separated values."""
    values = request.form.getlist(name)
    if name in LIST_FIELDS:
        return [part.strip() for value in values for part in value.split(",") if part.strip()]
    if len(values) > 1:
        errors.append({"field": name, "message": "given more than once; send it once"})
    return values[-1]


def field_range(name: str) -> str | None:
    """The numeric range of a JobParams field, e.g. '1 <= iterations <= 5000'."""
    field = JobParams.model_fields.get(name)
    if field is None:
        return None
    low = high = None
    for bound in field.metadata:
        for attribute, symbol in (("ge", "<="), ("gt", "<")):
            if getattr(bound, attribute, None) is not None:
                low = f"{getattr(bound, attribute)} {symbol} "
        for attribute, symbol in (("le", "<="), ("lt", "<")):
            if getattr(bound, attribute, None) is not None:
                high = f" {symbol} {getattr(bound, attribute)}"
    if low is None and high is None:
        return None
    return f"{low or ''}{name}{high or ''}"
