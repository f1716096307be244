"""The job row: the source of truth for a style-transfer job's state."""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column

from shared.db.base import Base, utcnow


class JobStatus(enum.StrEnum):
    """Lifecycle: queued -> running -> succeeded | failed | canceled."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def terminal(self) -> bool:
        """True once the job can no longer change."""
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELED})
ACTIVE_STATUSES = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})
_STATUS_SQL = ", ".join(f"'{status.value}'" for status in JobStatus)


class FailureCode(enum.StrEnum):
    """Why a job ended ``failed``: its ``error.code``. Each member carries its ``meaning``."""

    meaning: str

    def __new__(cls, value: str, meaning: str) -> FailureCode:
        member = str.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    BAD_INPUT = "bad_input", "an input image or parameter cannot make a picture; fix it"
    INPUT_MISSING = "input_missing", "an input image is no longer in storage; submit the job again"
    TIME_LIMIT = "time_limit", "the job ran past its time limit; lower iterations or max_size"
    TOO_LARGE = (
        "too_large",
        "the job does not fit the worker's memory even in tiles; the message names the largest "
        "max_size and style_scale that fit",
    )
    INTERNAL_ERROR = "internal_error", "the worker hit an unexpected error; submit the job again"
    WORKER_LOST = (
        "worker_lost",
        "the job's worker stopped answering on every attempt; submit it again with fewer "
        "iterations or a smaller max_size, and tell the operator if it repeats",
    )


class Job(Base):
    """One style-transfer job, owned by the API key that submitted it."""

    __tablename__ = "jobs"
    __table_args__ = (
        UniqueConstraint("owner_id", "idempotency_key", name="owner_idempotency_key"),
        CheckConstraint(f"status IN ({_STATUS_SQL})", name="status_valid"),
        Index("ix_jobs_owner_created", "owner_id", "created_at"),
        Index("ix_jobs_owner_status", "owner_id", "status"),  # the active-jobs count
        Index("ix_jobs_status_heartbeat", "status", "heartbeat_at"),
        Index("ix_jobs_status_finished", "status", "finished_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("api_keys.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED.value)
    params: Mapped[dict[str, Any]] = mapped_column(JSON)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    request_hash: Mapped[str | None] = mapped_column(String(64))

    content_key: Mapped[str] = mapped_column(String(512))
    style_keys: Mapped[list[str]] = mapped_column(JSON)
    result_key: Mapped[str | None] = mapped_column(String(512))
    preview_key: Mapped[str | None] = mapped_column(String(512))

    iteration: Mapped[int] = mapped_column(Integer, default=0)
    total_iterations: Mapped[int] = mapped_column(Integer)
    losses: Mapped[dict[str, float] | None] = mapped_column(JSON)
    ms_per_iter: Mapped[float | None] = mapped_column(Float)
    progress_at: Mapped[datetime | None] = mapped_column()

    error_code: Mapped[str | None] = mapped_column(String(64))
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    cancel_requested: Mapped[bool] = mapped_column(default=False)

    worker: Mapped[str | None] = mapped_column(String(255))
    # When the task message was last sent; None: not sent (the reaper sends it).
    sent_at: Mapped[datetime | None] = mapped_column()
    heartbeat_at: Mapped[datetime | None] = mapped_column()
    weights_source: Mapped[str | None] = mapped_column(String(255))
    metrics: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    # DELETE asked (the job is gone for its owner); inputs, and result and preview, removed
    # from storage (by a deletion or by retention); the bytes its objects take in storage.
    deleted_at: Mapped[datetime | None] = mapped_column()
    inputs_removed_at: Mapped[datetime | None] = mapped_column()
    outputs_removed_at: Mapped[datetime | None] = mapped_column()
    input_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    preview_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    result_bytes: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")

    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column()
    finished_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
