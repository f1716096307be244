"""Jobs: submit, get, list, cancel, result and preview."""

from __future__ import annotations

import logging
import uuid

import redis
from flask import Blueprint, Response, current_app, g, jsonify, request
from sqlalchemy.exc import IntegrityError

from api.auth import protect
from api.db import get_session
from api.errors import ApiProblem, field_error, invalid_request
from api.validation import Submission, parse_submission
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.images import OUTPUT_FORMATS, PREVIEW_FORMAT
from shared.job_events import status_event
from shared.job_json import job_json
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from shared.storage import ObjectNotFound, Storage, StorageError
from shared.storage.keys import content_key, style_key

log = logging.getLogger(__name__)
bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")
protect(bp)

MAX_IDEMPOTENCY_KEY = 255
LIST_QUERY = frozenset({"status", "limit", "cursor", "owner"})


def _settings() -> Settings:
    return current_app.config["STYLIZE"]


def _channel() -> ProgressChannel:
    return current_app.extensions["stylize_channel"]


def _storage() -> Storage:
    return current_app.extensions["stylize_storage"]


def _live(job: Job) -> dict | None:
    """Live progress from Redis while the job can still change; the DB alone once it ended."""
    if JobStatus(job.status).terminal:
        return None
    try:
        return _channel().latest(str(job.id))
    except redis.RedisError:  # the DB row alone still answers
        log.warning("live progress unavailable for %s", job.id, exc_info=True)
        return None


def load_job(job_id: str, *, to_change: bool = False) -> Job:
    """The caller's job, or 404 (also for another key's job).

    An admin key reads every key's jobs; only the owner may change one (``to_change``).
    """
    try:
        parsed = uuid.UUID(job_id)
    except ValueError:
        raise ApiProblem(404, "Not Found", f"no job {job_id!r}; job ids are UUIDs") from None
    owner = None if g.api_key.is_admin and not to_change else g.owner_id
    job = job_store.get_job(get_session(), parsed, owner_id=owner)
    if job is None:
        raise ApiProblem(404, "Not Found", f"no job {job_id} for this key")
    return job


@bp.post("")
def submit() -> tuple[Response, int, dict[str, str]] | tuple[Response, int]:
    """Validate, store inputs, write the row ``queued``, then send; 202 + Location.

    A failed send still answers 202: the job is recorded, and the reaper sends it later.
    """
    settings = _settings()
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise field_error("Idempotency-Key", f"must be 1-{MAX_IDEMPOTENCY_KEY} characters")
    submission = parse_submission(request, settings)
    session = get_session()
    if submission.params.webhook_url is not None and g.api_key.webhook_secret is None:
        raise field_error(
            "webhook_url",
            "this API key has no webhook signing secret (it predates webhooks); create a "
            "new key with 'stylize keys create NAME' to use webhooks",
        )
    if idempotency_key:
        existing = job_store.find_by_idempotency_key(session, g.owner_id, idempotency_key)
        if existing is not None:
            return replay(existing, submission)
    active = job_store.count_active_jobs(session, g.owner_id)
    most = g.api_key.max_active_jobs or settings.max_active_jobs_per_key
    if active >= most:
        raise ApiProblem(
            429,
            "Too Many Requests",
            f"this key already has {active} queued or running jobs (the limit is "
            f"{most}); wait for one to finish",
            headers={"Retry-After": "30"},
        )
    try:
        job = store_new_job(submission, idempotency_key)
    except StorageError:
        log.exception("could not store the inputs of a new job")
        raise ApiProblem(
            503,
            "Service Unavailable",
            "storage is unavailable; nothing was queued, submit the job again",
            headers={"Retry-After": "10"},
        ) from None
    if job is None:  # lost an idempotency race to a concurrent identical request
        existing = job_store.find_by_idempotency_key(session, g.owner_id, idempotency_key or "")
        if existing is None:
            raise RuntimeError("idempotency conflict without a job holding the key")
        return replay(existing, submission)
    try:
        current_app.extensions["stylize_task_sender"](str(job.id), 1, submission.params)
    except Exception as exc:  # the row is the truth: the reaper sends it once the broker is back
        log.warning("job %s accepted, not sent (%s); the reaper will send it", job.id, exc)
        job_store.mark_unsent(session, job.id)
    return jsonify(job_json(job)), 202, {"Location": f"/v1/jobs/{job.id}"}


def replay(existing: Job, submission: Submission) -> tuple[Response, int]:
    """Answer a repeated Idempotency-Key: the same job, or 409 if the request differs."""
    if existing.request_hash != submission.request_hash:
        raise ApiProblem(
            409,
            "Conflict",
            "this Idempotency-Key was used for a different request; use a new key",
            slug="idempotency-key-reused",
        )
    return jsonify(job_json(existing, _live(existing))), 200


def store_new_job(submission: Submission, idempotency_key: str | None) -> Job | None:
    """Store the inputs and write the queued row; on failure remove what was stored.

    Returns None when a concurrent request with the same Idempotency-Key wrote its row first.
    """
    storage = _storage()
    job_id = uuid.uuid4()
    content = content_key(job_id, submission.content.extension)
    styles = [
        style_key(job_id, n, upload.extension)
        for n, upload in enumerate(submission.styles, start=1)
    ]
    stored: list[str] = []
    try:
        for key, upload in zip(
            [content, *styles], [submission.content, *submission.styles], strict=True
        ):
            storage.put(key, upload.data)
            stored.append(key)
        return job_store.create_job(
            get_session(),
            job_id=job_id,
            owner_id=g.owner_id,
            params=submission.params,
            content_key=content,
            style_keys=styles,
            max_attempts=_settings().job_max_attempts,
            idempotency_key=idempotency_key,
            request_hash=submission.request_hash,
        )
    except Exception as exc:
        for key in stored:
            storage.delete(key)
        if isinstance(exc, IntegrityError) and idempotency_key:
            return None
        raise


@bp.get("")
def list_jobs() -> Response:
    """The caller's jobs newest first; ``status``, ``limit`` (1-100), ``cursor``, ``owner``.

    ``owner=all`` (admin keys only) lists every key's jobs; an empty ``cursor`` is the start.
    """
    status = request.args.get("status")
    raw_limit = request.args.get("limit", "20")
    owner = request.args.get("owner", "me")
    if owner == "all" and not g.api_key.is_admin:
        raise ApiProblem(
            403,
            "Forbidden",
            "owner=all needs an admin key (stylize keys create NAME --admin); "
            "leave owner out to list this key's jobs",
        )
    errors = [
        {"field": name, "message": "unknown query parameter; use status, limit, cursor, owner"}
        for name in sorted(set(request.args) - LIST_QUERY)
    ]
    if owner not in ("me", "all"):
        errors.append({"field": "owner", "message": "must be 'me' or 'all' (admin keys)"})
    if status is not None and status not in {s.value for s in JobStatus}:
        statuses = ", ".join(s.value for s in JobStatus)
        errors.append({"field": "status", "message": f"must be one of {statuses}"})
    if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 100:
        errors.append({"field": "limit", "message": "must be an integer from 1 to 100"})
    if errors:
        raise invalid_request(errors)
    try:
        jobs, next_cursor = job_store.list_jobs(
            get_session(),
            None if owner == "all" else g.owner_id,
            status=status,
            limit=int(raw_limit),
            cursor=request.args.get("cursor") or None,
        )
    except job_store.CursorError as exc:
        raise field_error("cursor", str(exc)) from None
    return jsonify({"jobs": [job_json(job) for job in jobs], "next_cursor": next_cursor})


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """Status, progress (live), timings, metrics, error and links."""
    job = load_job(job_id)
    return jsonify(job_json(job, _live(job)))


@bp.post("/<job_id>/cancel")
def cancel(job_id: str) -> tuple[Response, int]:
    """Queued: canceled at once. Running: the worker stops within one iteration."""
    job = load_job(job_id, to_change=True)
    was = JobStatus(job.status)
    session = get_session()
    status = JobStatus(job.status) if was.terminal else job_store.request_cancel(session, job.id)
    if status.terminal and not (was is JobStatus.QUEUED and status is JobStatus.CANCELED):
        raise ApiProblem(409, "Conflict", f"the job already ended ({status}); nothing to cancel")
    session.refresh(job)
    try:
        if status is JobStatus.RUNNING:
            _channel().request_cancel(str(job.id))
        else:
            _channel().publish(
                str(job.id), status_event(job.status, job.error_code, job.error_message)
            )
    except redis.RedisError:
        if status is JobStatus.RUNNING:
            log.exception("could not signal the cancel of job %s", job.id)
            raise ApiProblem(
                503,
                "Service Unavailable",
                "the cancel is recorded but the worker could not be told; send it again",
                headers={"Retry-After": "5"},
            ) from None
        log.warning("could not publish the cancel of job %s", job.id, exc_info=True)
    return jsonify(job_json(job, _live(job))), 202 if status is JobStatus.RUNNING else 200


@bp.get("/<job_id>/result")
def result(job_id: str) -> Response:
    """The stylised image; 409 until the job succeeded."""
    job = load_job(job_id)
    if job.status != JobStatus.SUCCEEDED.value or not job.result_key:
        raise ApiProblem(
            409, "Conflict", f"the job is {job.status}; the result exists once it has succeeded"
        )
    return stream_object(job.result_key, OUTPUT_FORMATS[job.params["output_format"]].media_type)


@bp.get("/<job_id>/preview")
def preview(job_id: str) -> Response:
    """The latest intermediate image (PNG, the PREVIEW_FORMAT)."""
    job = load_job(job_id)
    if not job.preview_key:
        raise ApiProblem(
            404, "Not Found", "no preview yet; previews appear every preview_every iterations"
        )
    return stream_object(job.preview_key, PREVIEW_FORMAT.media_type)


def stream_object(key: str, media_type: str) -> Response:
    """Stream a stored object; a missing one is a 404 problem."""
    try:
        chunks = _storage().open(key)
    except ObjectNotFound:
        raise ApiProblem(404, "Not Found", "the image is no longer in storage") from None
    return Response(chunks, mimetype=media_type, headers={"Cache-Control": "private, max-age=60"})
