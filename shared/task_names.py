"""Names that the API (producer) and the worker (consumer) must agree on."""

RUN_JOB_TASK = "stylize.run_job"
DELIVER_WEBHOOK_TASK = "stylize.deliver_webhook"
