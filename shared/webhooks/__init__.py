"""Webhooks: the outbox rows, Standard Webhooks signing, the address check, one attempt and the
sender loop of ``stylize webhooks``."""
