"""The web page at ``/``: static HTML, CSS and JS from ``api/static`` (no build step, no CDN).

The page itself needs no key: the visitor enters one, and the page sends it as a Bearer token.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app

bp = Blueprint("web", __name__)


@bp.get("/")
def page() -> Response:
    """The single-page app."""
    response = current_app.send_static_file("index.html")
    response.headers["Cache-Control"] = "no-cache"
    return response
