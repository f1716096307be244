"""What the client raises: the API's problem answers, an unreachable API, a wait that ran out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


class StylizeError(Exception):
    """Base of every error this client raises; ``str()`` is one readable line."""


@dataclass(frozen=True)
class FieldError:
    """One bad field of a request, as the API's problem ``errors`` names it."""

    field: str
    message: str


class ApiError(StylizeError):
    """The API answered 4xx/5xx; carries the RFC 9457 problem body."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str,
        errors: list[FieldError] | None = None,
        problem: dict[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors or []
        self.problem = problem or {}
        super().__init__(self.one_line())

    @classmethod
    def from_response(cls, status: int, body: Any, text: str) -> ApiError:
        """Build from a response: its problem+json body, or the start of a non-JSON one."""
        if not isinstance(body, dict):
            return cls(status, "HTTP error", text.strip()[:200] or "no details given")
        errors = [
            FieldError(str(item.get("field", "?")), str(item.get("message", "")))
            for item in body.get("errors") or []
            if isinstance(item, dict)
        ]
        return cls(
            status,
            str(body.get("title") or "HTTP error"),
            str(body.get("detail") or ""),
            errors,
            body,
        )

    def one_line(self) -> str:
        """``HTTP 422 Invalid request: iterations: must be ...; style: ...``."""
        said = "; ".join(f"{e.field}: {e.message}" for e in self.errors) or self.detail
        return (
            f"HTTP {self.status} {self.title}: {said}"
            if said
            else f"HTTP {self.status} {self.title}"
        )


class ApiUnreachable(StylizeError):
    """No answer from the API after the retries (refused, timed out, DNS)."""


class WaitTimeout(StylizeError):
    """``Client.wait`` gave up before the job ended (the job goes on)."""
