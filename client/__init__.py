"""The Stylize Python client: HTTP only (requests), no Flask, Celery or TensorFlow.

>>> from client import Client
>>> with Client("http://127.0.0.1:8000", "sty_...") as stylize:
...     job = stylize.submit("photo.jpg", ["painting.jpg"], iterations=100)
...     job = stylize.wait(job, on_progress=lambda p: print(f"{p.percent:.0f} %"))
...     stylize.download(job, "out.png")
"""

from client.client import Client
from client.errors import ApiError, ApiUnreachable, FieldError, StylizeError, WaitTimeout
from client.models import Job, JobError, JobPage, Progress, Timings

__all__ = [
    "ApiError",
    "ApiUnreachable",
    "Client",
    "FieldError",
    "Job",
    "JobError",
    "JobPage",
    "Progress",
    "StylizeError",
    "Timings",
    "WaitTimeout",
]
