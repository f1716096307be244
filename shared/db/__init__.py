"""Database: typed SQLAlchemy models, engine/session factory, and job-store queries."""
