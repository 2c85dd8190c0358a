"""Validating and mapping incoming responses (REST, vendor webhooks, CSV) onto store records."""
