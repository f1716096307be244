"""Reading a Server-Sent Events stream (the WHATWG framing: ``event:``, ``data:``, ``id:``, blank
line)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Event:
    """One event: its type, its JSON data, and the stream's last event id (None if unset)."""

    kind: str
    data: dict[str, Any]
    last_id: str | None


def sse_events(lines: Iterable[str]) -> Iterator[Event]:
    """Each event of the stream, in order; comments and ``retry`` lines are skipped."""
    kind, data, last_id = "message", [], None
    for line in lines:
        if not line:
            if data:
                yield Event(kind, json.loads("\n".join(data)), last_id)
            kind, data = "message", []
        elif line.startswith(":"):
            continue
        else:
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "event":
                kind = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                last_id = value
