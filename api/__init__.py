"""The HTTP API: a Flask app factory. Never imports TensorFlow or anything from worker/."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import Flask

if TYPE_CHECKING:
    from shared.settings import Settings
    from shared.task_names import TaskSender


def create_app(settings: Settings | None = None, *, task_sender: TaskSender | None = None) -> Flask:
    """Build the app from ``settings`` (default: the environment); nothing runs at import."""
    from api import (
        auth,
        db,
        deliveries,
        docs,
        errors,
        events,
        health,
        jobs,
        metrics,
        request_id,
        security_headers,
        web,
        webhook_secret,
    )
    from api.event_hub import EventHub
    from api.stream_slots import StreamSlots
    from api.task_queue import celery_sender
    from shared.broker import broker_queues, queue_depths, redis_client
    from shared.progress_channel import ProgressChannel
    from shared.settings import get_settings
    from shared.storage import open_storage

    settings = settings or get_settings()
    app = Flask(__name__)
    app.config.update(STYLIZE=settings, MAX_CONTENT_LENGTH=settings.max_upload_bytes)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # documented order
    client = redis_client(settings.broker_url)
    app.extensions["stylize_redis"] = client
    app.extensions["stylize_channel"] = ProgressChannel(client)
    app.extensions["stylize_storage"] = open_storage(settings)
    app.extensions["stylize_task_sender"] = task_sender or celery_sender(settings)
    app.extensions["stylize_event_hub"] = EventHub(lambda: redis_client(settings.broker_url))
    app.extensions["stylize_stream_slots"] = StreamSlots(
        client, settings.events_per_key, settings.events_per_process
    )
    security_headers.init_app(app)
    auth.init_app(app)
    request_id.init_app(app)
    errors.init_app(app)
    db.init_app(app)
    metrics.init_app(app, lambda: queue_depths(client, broker_queues(settings)))
    blueprints = (jobs.bp, events.bp, deliveries.bp, webhook_secret.bp, health.bp, docs.bp, web.bp)
    for blueprint in blueprints:
        app.register_blueprint(blueprint)
    return app
