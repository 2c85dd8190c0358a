"""``create_server()`` returns the Flask server for gunicorn (see the Procfile)."""

from __future__ import annotations

from flask import Flask

from app.config import Settings
from app.logs import configure_logging
from app.web import create_app, start_jobs, warm_up


def create_server(settings: Settings | None = None) -> Flask:
    """Build the app from the environment and start this worker's poll job."""
    configure_logging()
    dash_app = create_app(settings)
    warm_up(dash_app)
    start_jobs(dash_app)
    return dash_app.server
