"""Alembic environment: the URL comes from the config that migrations.alembic_config sets."""

from __future__ import annotations

from alembic import context
from alembic.autogenerate.api import AutogenContext

from shared.db.base import UTCDateTime
from shared.db.models import Base
from shared.db.session import make_engine

config = context.config
target_metadata = Base.metadata


def render_item(type_: str, obj: object, _context: AutogenContext) -> str | bool:
    """Autogenerate writes our UTCDateTime as the plain column type it stores."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Apply migrations over a connection; batch mode lets SQLite alter tables."""
    engine = make_engine(config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            render_item=render_item,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
