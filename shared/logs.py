"""One logging setup for every process: text for people, or one JSON object per line.

Lines carry the context they were logged in: ``job_id``/``attempt`` inside a job,
``request_id`` inside an API request (``log_context`` binds them; a filter adds them).
JSON uses python-json-logger: ``time``, ``level``, ``logger``, ``message``, then the context.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import MappingProxyType
from typing import IO, Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

CONTEXT_FIELDS = ("job_id", "attempt", "request_id")
# Loggers whose INFO lines describe library internals, not the service: warnings and up only.
LIBRARY_LOGGERS = ("alembic.runtime.plugins",)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(context)s"

_context: contextvars.ContextVar[Mapping[str, object]] = contextvars.ContextVar(
    "stylize_log_context", default=MappingProxyType({})
)


@contextmanager
def log_context(**fields: object) -> Iterator[None]:
    """Add ``fields`` (e.g. ``job_id=...``) to every line logged inside the block."""
    token = bind(**fields)
    try:
        yield
    finally:
        _context.reset(token)


def bind(**fields: object) -> contextvars.Token[Mapping[str, object]]:
    """Add ``fields`` to this context's lines until ``unbind(token)``; returns the token."""
    return _context.set({**_context.get(), **fields})


def unbind(token: contextvars.Token[Mapping[str, object]]) -> None:
    """Undo the ``bind`` that returned ``token``."""
    _context.reset(token)


class ContextFilter(logging.Filter):
    """Copies the bound context onto each record (``record.job_id`` ...) and a text suffix."""

    def filter(self, record: logging.LogRecord) -> bool:
        bound = _context.get()
        for name in CONTEXT_FIELDS:
            if name in bound and not hasattr(record, name):
                setattr(record, name, bound[name])
        shown = [
            f"{name}={getattr(record, name)}" for name in CONTEXT_FIELDS if hasattr(record, name)
        ]
        record.context = f" [{' '.join(shown)}]" if shown else ""
        return True


class JsonLineFormatter(JsonFormatter):
    """One JSON object per line; gunicorn's access lines also get their fields by name."""

    ACCESS_FIELDS = {
        "method": "m",
        "path": "U",
        "status": "s",
        "duration_ms": "M",
        "remote": "h",
        "request_id": "{x-request-id}o",
    }

    def __init__(self) -> None:
        super().__init__(
            ["levelname", "name", "message"],
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            reserved_attrs=[*RESERVED_ATTRS, "context"],  # the text suffix; JSON has fields
        )

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        fields = dict(log_data)
        log_data.clear()
        log_data["time"] = fields.pop("time")  # first, as people and log shippers read it
        log_data.update(fields)
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            for field, atom in self.ACCESS_FIELDS.items():
                value = record.args.get(atom)
                if value not in (None, "-"):
                    log_data[field] = int(value) if field in ("status", "duration_ms") else value


def wants_json(log_format: str, stream: IO[str]) -> bool:
    """JSON for ``json``; for ``auto``, JSON unless ``stream`` is a terminal."""
    if log_format == "auto":
        return not stream.isatty()
    return log_format == "json"


def make_formatter(log_format: str, stream: IO[str]) -> logging.Formatter:
    """The formatter ``STYLIZE_LOG_FORMAT`` asks for on ``stream``."""
    if wants_json(log_format, stream):
        return JsonLineFormatter()
    return logging.Formatter(TEXT_FORMAT)


def make_handler(log_format: str, stream: IO[str] | None = None) -> logging.Handler:
    """A stream handler (stderr by default) with the formatter and the context filter."""
    stream = stream or sys.stderr
    handler = logging.StreamHandler(stream)
    handler.setFormatter(make_formatter(log_format, stream))
    handler.addFilter(ContextFilter())
    return handler


def configure_logging(log_format: str, level: str) -> None:
    """Route every logger through one handler on stderr, in the given format and level."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(make_handler(log_format))
    root.setLevel(level)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
    logging.captureWarnings(True)
