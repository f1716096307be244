"""What the routes accept besides the job parameters: the list's query, the Idempotency-Key.

Each limit is stated once, here: the routes validate with these models and ``/openapi.json``
takes their schemas from them.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter

from shared.db.job import JobStatus
from shared.db.job_store import CURSOR_PATTERN

IdempotencyKey = Annotated[str, StringConstraints(min_length=1, max_length=255)]
IDEMPOTENCY_KEY = TypeAdapter(IdempotencyKey)


class ListQuery(BaseModel):
    """``GET /v1/jobs``'s query: unknown names and values outside these are a 422."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    status: JobStatus | None = Field(None, description="Only jobs in this status.")
    limit: int = Field(20, ge=1, le=100, strict=False, description="Jobs per page.")
    cursor: Annotated[str, Field(pattern=f"(^$)|({CURSOR_PATTERN})")] = Field(
        "", description="next_cursor of the previous page; empty: the first page."
    )
    owner: Literal["me", "all"] = Field(
        "me", description="me, or all: every key's jobs (admin keys only)."
    )
