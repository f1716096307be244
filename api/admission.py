"""Admission by memory: a job that would fit no worker's budget is refused at submit.

The workers advertise their budgets (shared/worker_budgets.py); the job's peak is predicted
from its parameters and its images' sizes, read from their headers alone
(shared/memory_model.py, which plans tiles where one pass would not fit). The 422 names the
largest ``max_size`` and ``style_scale`` that fit. With no worker advertising, or Redis away,
nothing is refused here: the worker checks again before it starts (failure code
``too_large``).
"""

from __future__ import annotations

import logging

import redis

from api.errors import ApiProblem, invalid_request
from api.validation import Draft
from shared.images import ImageError, image_size
from shared.memory_model import largest_fit, plan
from shared.settings import Settings
from shared.worker_budgets import largest_budget

log = logging.getLogger(__name__)


def check_fits(draft: Draft, client: redis.Redis, settings: Settings) -> None:
    """A 422 naming what would fit when the job fits no live worker's memory budget."""
    try:
        budget = largest_budget(client)
    except redis.RedisError:
        log.warning("worker budgets unavailable; admitting without the memory check")
        return
    if budget is None:
        return
    try:
        content = image_size(draft.content, settings.max_image_pixels)
        styles = [image_size(style, settings.max_image_pixels) for style in draft.styles]
    except ImageError:
        return  # the decoding that follows names what is wrong with the image
    params = draft.params
    precision = "bfloat16" if params.precision == "bfloat16" else "float32"
    job = plan(params, content, styles, precision, budget)
    if job.fits:
        return
    fit = largest_fit(params, content, styles, budget, precision)
    needed = f"needs about {job.peak_mb:.0f} MB; the largest worker has {budget:.0f} MB"
    if fit is None:
        raise ApiProblem(
            422,
            "Invalid request",
            f"this job fits no worker's memory at any size ({needed}); send smaller images",
            slug="invalid-request",
        )
    raise invalid_request(
        [
            {"field": "max_size", "message": f"{needed}: use max_size <= {fit.max_size}"},
            {
                "field": "style_scale",
                "message": f"with max_size={fit.max_size}, style_scale <= {fit.style_scale:g}",
            },
        ]
    )
