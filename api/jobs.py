"""Jobs: submit, get, list, cancel, delete, result and preview."""

from __future__ import annotations

import logging
import uuid

import redis
from flask import Blueprint, Response, current_app, g, request
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from api.admission import check_fits
from api.auth import protect
from api.db import get_session
from api.errors import ApiProblem, field_error, invalid_request, validation_errors
from api.job_access import load_job
from api.offload import off_loop
from api.request_models import IDEMPOTENCY_KEY, ListQuery
from api.upload_checks import check_uploads
from api.validation import Draft, Submission, parse_draft
from api.waiting import preferred_wait_s, wait_for_end
from shared.db import job_store
from shared.db.job import Job, JobStatus
from shared.images import OUTPUT_FORMATS, PREVIEW_FORMAT
from shared.job_document import job_document
from shared.job_end import end_job
from shared.job_objects import Deletion, delete_job
from shared.progress_channel import ProgressChannel
from shared.settings import Settings
from shared.storage import ObjectNotFound, Storage, StorageError, StorageFull
from shared.storage.keys import content_key, style_key

log = logging.getLogger(__name__)
bp = Blueprint("jobs", __name__, url_prefix="/v1/jobs")
protect(bp)


def _settings() -> Settings:
    return current_app.config["STYLIZE"]


def _channel() -> ProgressChannel:
    return current_app.extensions["stylize_channel"]


def _storage() -> Storage:
    return current_app.extensions["stylize_storage"]


def _live(job: Job) -> dict | None:
    """Live progress from Redis while the job runs (or ran: a requeued job); the DB alone
    for a job that never started or has ended."""
    if JobStatus(job.status).terminal or (job.status == JobStatus.QUEUED and job.attempts == 0):
        return None
    try:
        return _channel().latest(str(job.id))
    except redis.RedisError:  # the DB row alone still answers
        log.warning("live progress unavailable for %s", job.id, exc_info=True)
        return None


def job_response(job: Job, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """The job document as the answer."""
    body = job_document(job, _live(job)).dump_json()
    return Response(body, status=status, mimetype="application/json", headers=headers)


def waited(job: Job, status: int, headers: dict[str, str] | None = None) -> Response:
    """Answer with ``job``, after waiting for its end first if the client prefers that (and
    a slot to wait in is free; else at once, without Preference-Applied)."""
    seconds = preferred_wait_s()
    if seconds is None:
        return job_response(job, status, headers)
    try:
        job = wait_for_end(job, seconds)
    except ApiProblem as exc:  # no slot free, or no live events: answer now (RFC 7240 allows)
        if exc.status not in (429, 503):
            raise
        return job_response(job, status, headers)
    if status == 202 and JobStatus(job.status).terminal:
        status = 201  # created, and already done
    headers = {**(headers or {}), "Preference-Applied": f"wait={seconds}"}
    return job_response(job, status, headers)


@bp.post("")
def submit() -> Response:
    """Refuse cheaply first (key, rate, parameters, active jobs, the workers' memory, from the
    images' headers), then decode the images, store them, write the row ``queued`` and send;
    202 + Location.

    A failed send still answers 202: the job is recorded, and the reaper sends it later.
    """
    settings = _settings()
    idempotency_key = request.headers.get("Idempotency-Key")
    if idempotency_key is not None:
        try:
            IDEMPOTENCY_KEY.validate_python(idempotency_key)
        except ValidationError as exc:
            raise invalid_request(validation_errors(exc, "Idempotency-Key")) from None
    draft = parse_draft(request, settings)
    if draft.params.webhook_url is not None and g.api_key.webhook_secret is None:
        raise field_error(
            "webhook_url",
            "this API key has no webhook signing secret (it predates webhooks); create a "
            "new key with 'stylize keys create NAME' to use webhooks",
        )
    session = get_session()
    if idempotency_key:
        existing = job_store.find_by_idempotency_key(session, g.owner_id, idempotency_key)
        if existing is not None and existing.deleted_at is None:
            return replay(existing, draft)
    most = g.api_key.max_active_jobs or settings.max_active_jobs_per_key
    active = job_store.count_active_jobs(session, g.owner_id)
    if active >= most:
        raise too_many_active(active, most)
    check_fits(draft, current_app.extensions["stylize_redis"], settings)
    submission = check_uploads(draft, settings)
    try:
        job = store_new_job(submission, idempotency_key, most)
    except job_store.ActiveJobLimit as exc:
        raise too_many_active(exc.active, most) from None
    except StorageFull:
        log.warning("storage is full: a submit was refused")
        raise ApiProblem(
            507,
            "Insufficient Storage",
            "storage is full; nothing was stored or queued. Retry later, or delete finished "
            "jobs (DELETE /v1/jobs/<id>) to make room",
            headers={"Retry-After": "60"},
        ) from None
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
        return replay(existing, draft)
    try:
        current_app.extensions["stylize_task_sender"](str(job.id), 1, submission.params)
    except Exception as exc:  # the row is the truth: the reaper sends it once the broker is back
        log.warning("job %s accepted, not sent (%s); the reaper will send it", job.id, exc)
        job_store.mark_unsent(session, job.id)
    return waited(job, 202, {"Location": f"/v1/jobs/{job.id}"})


def too_many_active(active: int, most: int) -> ApiProblem:
    """The 429 of a key at its limit of queued and running jobs."""
    return ApiProblem(
        429,
        "Too Many Requests",
        f"this key already has {active} queued or running jobs (the limit is {most}); wait "
        "for one to finish",
        headers={"Retry-After": "30"},
    )


def replay(existing: Job, draft: Draft) -> Response:
    """Answer a repeated Idempotency-Key: the same job, or 409 if the request differs."""
    if existing.request_hash != draft.request_hash:
        raise ApiProblem(
            409,
            "Conflict",
            "this Idempotency-Key was used for a different request; use a new key",
            slug="idempotency-key-reused",
        )
    return waited(existing, 200)


def store_new_job(submission: Submission, idempotency_key: str | None, most: int) -> Job | None:
    """Store the inputs and write the queued row; on failure remove what was stored.

    Returns None when a concurrent request with the same Idempotency-Key wrote its row first;
    raises ActiveJobLimit when concurrent submits took the key's last free place.
    """
    storage = _storage()
    job_id = uuid.uuid4()
    content = content_key(job_id, submission.content.extension)
    styles = [
        style_key(job_id, n, upload.extension)
        for n, upload in enumerate(submission.styles, start=1)
    ]
    uploads = [submission.content, *submission.styles]
    size = sum(len(upload.data) for upload in uploads)
    free = storage.free_bytes()
    if free is not None and free < size + _settings().storage_min_free_mb * 2**20:
        raise StorageFull(f"{free} bytes free, below STYLIZE_STORAGE_MIN_FREE_MB")
    stored: list[str] = []

    def put_inputs() -> None:
        for key, upload in zip([content, *styles], uploads, strict=True):
            storage.put(key, upload.data)
            stored.append(key)

    try:
        if storage.blocks_thread:
            off_loop(put_inputs)  # fsync must not stall every other request of the process
        else:
            put_inputs()
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
            input_bytes=size,
            max_active=most,
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
    repeated = [name for name in request.args if len(request.args.getlist(name)) > 1]
    if repeated:
        raise invalid_request(
            [{"field": name, "message": "given more than once; send it once"} for name in repeated]
        )
    try:
        query = ListQuery.model_validate(request.args.to_dict())
    except ValidationError as exc:
        names = ", ".join(ListQuery.model_fields)
        unknown = f"unknown query parameter; use {names}"
        raise invalid_request(validation_errors(exc, unknown=unknown)) from None
    if query.owner == "all" and not g.api_key.is_admin:
        raise ApiProblem(
            403,
            "Forbidden",
            "owner=all needs an admin key (stylize keys create NAME --admin); "
            "leave owner out to list this key's jobs",
        )
    jobs, next_cursor = job_store.list_jobs(
        get_session(),
        None if query.owner == "all" else g.owner_id,
        status=query.status,
        limit=query.limit,
        cursor=query.cursor or None,
    )
    documents = ",".join(job_document(job).dump_json() for job in jobs)
    cursor = "null" if next_cursor is None else f'"{next_cursor}"'
    return Response(f'{{"jobs":[{documents}],"next_cursor":{cursor}}}', mimetype="application/json")


@bp.get("/<job_id>")
def get_job(job_id: str) -> Response:
    """Status, progress (live), timings, metrics, error and links; ``Prefer: wait=N`` waits
    for the end."""
    return waited(load_job(job_id), 200)


@bp.post("/<job_id>/cancel")
def cancel(job_id: str) -> Response:
    """Queued: canceled at once. Running: the worker stops within one iteration.

    The request is recorded in the row (the worker reads it there within a second, whatever
    happens to Redis); the Redis flag only makes the stop quicker.
    """
    job = load_job(job_id, to_change=True)
    session = get_session()
    if JobStatus(job.status).terminal:
        raise already_ended(job.status)
    ended = end_job(
        session,
        job.id,
        JobStatus.CANCELED,
        only_if=[Job.status == JobStatus.QUEUED.value],
        channel=_channel(),
    )
    if ended is not None:
        return job_response(ended)
    status = job_store.flag_cancel(session, job.id)
    if status is not JobStatus.RUNNING:  # it ended meanwhile
        raise already_ended(str(status))
    session.refresh(job)
    try:
        _channel().request_cancel(str(job.id))
    except redis.RedisError:
        log.warning("job %s: cancel recorded, Redis flag not set", job.id, exc_info=True)
    return job_response(job, 202)


def already_ended(status: str) -> ApiProblem:
    """The 409 of a cancel that comes too late."""
    return ApiProblem(409, "Conflict", f"the job already ended ({status}); nothing to cancel")


@bp.delete("/<job_id>")
def delete(job_id: str) -> Response:
    """Delete the job: 204 once its images are gone; 202 while a running job stops first
    (its images are removed as soon as it has). Either way the job is gone for this key."""
    job = load_job(job_id, to_change=True)
    deletion = delete_job(get_session(), _storage(), job, _channel())
    if deletion is Deletion.STOPPING:
        try:
            _channel().request_cancel(str(job.id))
        except redis.RedisError:
            log.warning("job %s: deletion recorded, Redis flag not set", job.id, exc_info=True)
        return Response(status=202)
    return Response(status=204)


@bp.get("/<job_id>/result")
def result(job_id: str) -> Response:
    """The stylised image; 409 until the job succeeded, 410 once retention removed it."""
    job = load_job(job_id)
    if job.status != JobStatus.SUCCEEDED.value or not job.result_key:
        raise ApiProblem(
            409, "Conflict", f"the job is {job.status}; the result exists once it has succeeded"
        )
    if job.outputs_removed_at is not None:
        raise removed()
    return stream_object(job.result_key, OUTPUT_FORMATS[job.params["output_format"]].media_type)


@bp.get("/<job_id>/preview")
def preview(job_id: str) -> Response:
    """The latest intermediate image (PNG, the PREVIEW_FORMAT)."""
    job = load_job(job_id)
    if job.outputs_removed_at is not None:
        raise removed()
    if not job.preview_key:
        raise ApiProblem(
            404, "Not Found", "no preview yet; previews appear every preview_every iterations"
        )
    return stream_object(job.preview_key, PREVIEW_FORMAT.media_type)


def removed() -> ApiProblem:
    """The 410 of an image that retention removed."""
    days = _settings().retain_results_s / 86400
    return ApiProblem(
        410, "Gone", f"the image was removed {days:g} days after the job ended (retention)"
    )


def stream_object(key: str, media_type: str) -> Response:
    """Stream a stored object; a missing one is a 404 problem."""
    try:
        chunks = _storage().open(key)
    except ObjectNotFound:
        raise ApiProblem(404, "Not Found", "the image is no longer in storage") from None
    return Response(chunks, mimetype=media_type, headers={"Cache-Control": "private, max-age=60"})
