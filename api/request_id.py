"""A request id per API request: taken from ``X-Request-Id`` when sane, else made; logged
on every line of the request (``request_id``) and returned in the ``X-Request-Id`` header."""

from __future__ import annotations

import re
import uuid

from flask import Flask, Response, g, request

from shared.logs import bind, unbind

HEADER = "X-Request-Id"
_ACCEPTED = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def _begin() -> None:
    offered = request.headers.get(HEADER, "")
    g.request_id = offered if _ACCEPTED.fullmatch(offered) else uuid.uuid4().hex
    fields = {"request_id": g.request_id}
    if request.view_args and "job_id" in request.view_args:
        fields["job_id"] = request.view_args["job_id"]
    g.log_token = bind(**fields)


def _answer(response: Response) -> Response:
    if "request_id" in g:
        response.headers[HEADER] = g.request_id
    return response


def _end(_exc: BaseException | None) -> None:
    token = g.pop("log_token", None)
    if token is not None:
        unbind(token)


def init_app(app: Flask) -> None:
    """Give every request an id, bind it (and a ``job_id`` in the URL) to its log lines."""
    app.before_request(_begin)
    app.after_request(_answer)
    app.teardown_request(_end)
