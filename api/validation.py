"""Parsing and validating a job submission before anything is written."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from flask import Request
from pydantic import ValidationError

from api.errors import ApiProblem, field_error
from shared.images import ImageError, decode_image
from shared.params import JobParams
from shared.settings import Settings

LIST_FIELDS = frozenset({"style_blend", "content_layers", "style_layers"})
FILE_FIELDS = frozenset({"content", "style"})


@dataclass(frozen=True)
class Upload:
    """An uploaded image that decoded cleanly: original bytes and a file extension."""

    data: bytes
    extension: str


@dataclass(frozen=True)
class Submission:
    """A validated job request."""

    params: JobParams
    content: Upload
    styles: list[Upload]
    request_hash: str


def parse_submission(request: Request, settings: Settings) -> Submission:
    """Validate files and parameters; raise ApiProblem naming every bad field."""
    if request.mimetype != "multipart/form-data":
        raise ApiProblem(
            415,
            "Unsupported Media Type",
            "send multipart/form-data with a 'content' file, 'style' file(s) and parameters",
        )
    params = parse_params(request, settings)
    unexpected = sorted(set(request.files) - FILE_FIELDS)
    if unexpected:
        raise field_error(unexpected[0], "unknown file field; send 'content' and 'style'")
    contents = request.files.getlist("content")
    styles = request.files.getlist("style")
    if len(contents) != 1:
        raise field_error("content", "send exactly one content image")
    if not styles:
        raise field_error("style", "send at least one style image")
    if len(styles) > settings.max_styles:
        raise field_error("style", f"at most {settings.max_styles} style images per job")
    try:
        params.check_style_count(len(styles))
    except ValueError as exc:
        raise field_error("style_blend", str(exc)) from None
    content = read_upload("content", contents[0].read(), settings)
    style_uploads = [
        read_upload(f"style[{n}]", upload.read(), settings)
        for n, upload in enumerate(styles, start=1)
    ]
    digest = hashlib.sha256(params.model_dump_json().encode())
    for upload in [content, *style_uploads]:
        digest.update(hashlib.sha256(upload.data).digest())
    return Submission(params, content, style_uploads, digest.hexdigest())


def parse_params(request: Request, settings: Settings) -> JobParams:
    """JobParams from the ``params`` JSON field or from plain form fields (not both)."""
    form_fields = {name for name in request.form if name != "params"}
    if "params" in request.form:
        if form_fields:
            raise field_error(
                "params",
                f"send parameters either as 'params' JSON or as form fields, not both "
                f"(also got {', '.join(sorted(form_fields))})",
            )
        try:
            raw: Any = json.loads(request.form["params"])
        except json.JSONDecodeError as exc:
            raise field_error(
                "params", f"not valid JSON ({exc.msg} at position {exc.pos})"
            ) from None
        if not isinstance(raw, dict):
            raise field_error("params", "must be a JSON object of parameter names to values")
    else:
        raw = {name: form_value(request, name) for name in form_fields}
    try:
        return JobParams.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"field": str(err["loc"][0]) if err["loc"] else "params", "message": describe(err)}
            for err in exc.errors()
        ]
        summary = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        raise ApiProblem(
            422, "Invalid parameters", summary, errors=errors, slug="invalid-request"
        ) from None


def form_value(request: Request, name: str) -> Any:
    """A form field's value; list fields take repeats or comma-separated values."""
    values = request.form.getlist(name)
    if name in LIST_FIELDS:
        return [part.strip() for value in values for part in value.split(",") if part.strip()]
    return values[-1] if len(values) == 1 else values


def describe(error: dict[str, Any]) -> str:
    """A pydantic error as a message that says what is allowed."""
    if error["type"] == "extra_forbidden":
        return "unknown parameter; see /openapi.json for the parameters a job takes"
    message = str(error["msg"]).removeprefix("Value error, ")
    allowed = field_range(str(error["loc"][0])) if error["loc"] else None
    return f"{message} (allowed: {allowed})" if allowed else message


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


def read_upload(field: str, data: bytes, settings: Settings) -> Upload:
    """Decode the upload fully (truncation, bombs, non-images) and keep its original bytes."""
    try:
        decode_image(data, max_pixels=settings.max_image_pixels)
    except ImageError as exc:
        raise field_error(field, str(exc)) from None
    return Upload(data, sniff_extension(data))


def sniff_extension(data: bytes) -> str:
    """File extension from the magic bytes of an image that already decoded."""
    if data.startswith(b"\x89PNG"):
        return "png"
    if data.startswith(b"\xff\xd8"):
        return "jpg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    return "img"
