"""The per-request database session, opened on first use and closed by one teardown hook."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from shared.db.session import session_factory
from shared.settings import Settings


def api_sessions(settings: Settings) -> sessionmaker[Session]:
    """The API process's session factory, keeping ``STYLIZE_API_DB_POOL`` connections."""
    return session_factory(settings.database_url, pool_size=settings.api_db_pool)


def get_session() -> Session:
    """This request's session."""
    if "db_session" not in g:
        g.db_session = api_sessions(current_app.config["STYLIZE"])()
    return g.db_session


def _close_session(_exc: BaseException | None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


def init_app(app: Flask) -> None:
    """Register the teardown hook."""
    app.teardown_appcontext(_close_session)
