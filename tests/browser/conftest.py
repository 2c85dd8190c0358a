"""What the browser tests share: a running wall server on a store with a few weeks of data."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

from app.config import Settings
from app.services import get_services
from app.web import create_app, start_jobs, stop_jobs
from tests.conftest import make_record

# Parallel test runs on one machine each set their own base port (dash_duo starts at 8050).
_PORTS = itertools.count(int(os.environ.get("NPS_TV_TEST_BROWSER_PORT") or 8050))


def serve_wall(dash_duo, settings: Settings, poll_seconds: float) -> Iterator[tuple]:
    """Start a polling server on a store with 40 responses over 20 days; stop it afterwards."""
    dash_app = create_app(settings.replace(poll_seconds=poll_seconds))
    store = get_services(dash_app).store
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(i, 10 if i % 2 else 8, when=now - timedelta(days=i % 20, hours=2),
                    comment=f"Solid product, comment {i}", product="Ledger", region="EMEA")
        for i in range(40)])
    yield from serve(dash_duo, dash_app, navigate=True)


def serve(dash_duo, dash_app, *, navigate: bool = False,
          size: tuple[int, int] | None = None) -> Iterator[tuple]:
    """Run ``dash_app`` (its poll and other jobs too) on the next free test port for the
    test's time; ``size`` sets the browser window. Yields (dash_duo, dash_app)."""
    start_jobs(dash_app)
    dash_duo.start_server(dash_app, navigate=navigate, port=next(_PORTS))
    if size is not None:
        dash_duo.driver.set_window_size(*size)
    try:
        yield dash_duo, dash_app
    finally:
        stop_jobs(dash_app)
