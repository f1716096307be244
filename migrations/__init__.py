"""Alembic migrations for SQLite and PostgreSQL; run with ``stylize db upgrade``."""
