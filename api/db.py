"""The per-request database session, opened on first use and closed by one teardown hook."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session

from shared.db.session import session_factory


def get_session() -> Session:
    """This request's session."""
    if "db_session" not in g:
        g.db_session = session_factory(current_app.config["STYLIZE"].database_url)()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Register the teardown hook."""
    app.teardown_appcontext(_close_session)
