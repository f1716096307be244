"""All models in one import, for Alembic and for callers that need the metadata."""

from shared.db.api_key import ApiKey
from shared.db.base import Base
from shared.db.job import TERMINAL_STATUSES, Job, JobStatus
from shared.db.webhook_delivery import WebhookDelivery

__all__ = ["TERMINAL_STATUSES", "ApiKey", "Base", "Job", "JobStatus", "WebhookDelivery"]
