"""Celery workers and the style-transfer engine."""
