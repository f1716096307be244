"""One logging setup: JSON lines with time, level, logger, message and the bound context."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from shared.logs import bind, log_context, make_handler, unbind, wants_json


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def isolated(name: str) -> Iterator[logging.Logger]:
    log = logging.getLogger(name)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    log.handlers.clear()
    log.propagate = True
    log.setLevel(logging.NOTSET)


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    yield from isolated("stylize.test_logs")


@pytest.fixture
def access_logger() -> Iterator[logging.Logger]:
    yield from isolated("gunicorn.access")


def capture(logger: logging.Logger, log_format: str, stream: io.StringIO) -> io.StringIO:
    logger.handlers.clear()
    logger.addHandler(make_handler(log_format, stream))
    return stream


def test_json_lines_carry_time_level_logger_message_and_job_fields(logger: logging.Logger) -> None:
    out = capture(logger, "json", io.StringIO())
    with log_context(job_id="j-1", attempt=2):
        logger.info("step %d of %d", 3, 10)
        try:
            raise ValueError("bad pixel")
        except ValueError:
            logger.exception("job failed")
    logger.warning("after the job")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 3
    first, failed, after = lines
    assert list(first)[:4] == ["time", "level", "logger", "message"]
    assert first["message"] == "step 3 of 10" and first["level"] == "INFO"
    assert first["logger"] == "stylize.test_logs"
    assert (first["job_id"], first["attempt"]) == ("j-1", 2)
    assert "ValueError: bad pixel" in failed["exc_info"] and failed["job_id"] == "j-1"
    assert "job_id" not in after and "attempt" not in after


def test_text_lines_show_the_context(logger: logging.Logger) -> None:
    out = capture(logger, "text", io.StringIO())
    token = bind(request_id="r-9")
    logger.info("hello")
    unbind(token)
    logger.info("bye")
    hello, bye = out.getvalue().splitlines()
    assert hello.endswith("INFO stylize.test_logs: hello [request_id=r-9]")
    assert bye.endswith("INFO stylize.test_logs: bye")


def test_auto_is_text_on_a_terminal_and_json_elsewhere(logger: logging.Logger) -> None:
    assert not wants_json("auto", Terminal()) and wants_json("auto", io.StringIO())
    assert wants_json("json", Terminal()) and not wants_json("text", io.StringIO())
    out = capture(logger, "auto", Terminal())
    logger.info("for people")
    assert not out.getvalue().startswith("{")


def test_gunicorn_access_lines_get_their_fields(access_logger: logging.Logger) -> None:
    out = capture(access_logger, "json", io.StringIO())
    atoms = {
        "m": "GET",
        "U": "/v1/jobs",
        "s": "200",
        "M": "12",
        "h": "127.0.0.1",
        "{x-request-id}o": "abc",
    }
    access_logger.info('%(h)s "%(m)s %(U)s" %(s)s', atoms)
    line = json.loads(out.getvalue())
    assert line["message"] == '127.0.0.1 "GET /v1/jobs" 200'
    assert (line["method"], line["path"], line["status"], line["duration_ms"]) == (
        "GET",
        "/v1/jobs",
        200,
        12,
    )
    assert line["request_id"] == "abc"
