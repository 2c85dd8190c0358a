"""Builds and starts the APScheduler jobs; called when a server starts, never on import."""

from __future__ import annotations

from apscheduler.schedulers.background import BackgroundScheduler

from app.poller import Poller


def start_scheduler(poller: Poller, poll_seconds: float) -> BackgroundScheduler:
    """Poll once now (so the first page has data), then every ``poll_seconds``, one at a time."""
    poller.poll()
    scheduler = BackgroundScheduler(daemon=True, timezone="UTC")
    # The poll is read-only and idempotent, so every process may run its own
    # (docs/architecture.md, "Threads and processes").
    scheduler.add_job(poller.poll, "interval", seconds=poll_seconds, id="poll",
                      max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler
