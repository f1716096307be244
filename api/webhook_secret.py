"""Rotating the caller's webhook signing secret, with the old one valid for a while."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.auth import protect
from api.db import get_session
from api.errors import field_error, invalid_request, validation_errors
from shared.api_keys import rotate_webhook_secret
from shared.db.api_key import ApiKey

bp = Blueprint("webhook_secret", __name__, url_prefix="/v1")
protect(bp)


class Rotation(BaseModel):
    """How long the old secret keeps signing deliveries beside the new one."""

    model_config = ConfigDict(extra="forbid", strict=True)  # a boolean is not a number

    overlap_hours: float = Field(24.0, ge=0, le=168)


@bp.post("/webhook-secret")
def rotate() -> tuple[Response, int]:
    """A new secret for this key's deliveries, shown once; the old one signs too until
    ``previous_valid_until`` (each delivery then carries both signatures)."""
    body = request.get_json(silent=True) if request.content_length else {}
    if not isinstance(body, dict):
        raise field_error("body", 'send a JSON object such as {"overlap_hours": 24}, or none')
    try:
        rotation = Rotation.model_validate(body)
    except ValidationError as exc:
        raise invalid_request(validation_errors(exc)) from None
    session = get_session()
    key = session.get(ApiKey, g.owner_id)
    assert key is not None  # the request was authenticated with it
    secret = rotate_webhook_secret(session, key, timedelta(hours=rotation.overlap_hours))
    until = key.previous_webhook_secret_until
    return jsonify(
        {"secret": secret, "previous_valid_until": until.isoformat() if until else None}
    ), 201
