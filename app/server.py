"""``create_server()`` returns the Flask server for gunicorn (see the Procfile); ``WallServer``
runs gunicorn for ``nps-tv serve`` with the same settings (``gunicorn_options``)."""

from __future__ import annotations

from flask import Flask
from gunicorn.app.base import BaseApplication

from app.config import Settings
from app.logs import RedactingLogger, configure_logging
from app.web import create_app, start_jobs, warm_up
from app.wsgi import KEEPALIVE_SECONDS, WORKER_CONNECTIONS, WallWorker


def create_server(settings: Settings | None = None) -> Flask:
    """Build the app from the environment and start this worker's poll job."""
    configure_logging()
    dash_app = create_app(settings)
    warm_up(dash_app)
    start_jobs(dash_app)
    return dash_app.server


def gunicorn_options(settings: Settings) -> dict:
    """The gunicorn settings of ``nps-tv serve`` (the Procfile passes the same as flags)."""
    return {
        "bind": f"{settings.host}:{settings.port}",
        "workers": max(1, settings.workers),
        "threads": max(1, settings.threads),
        "worker_connections": WORKER_CONNECTIONS,
        "worker_class": type("WallWorker", (WallWorker,), {
            "body_limit": max(settings.max_body_bytes, settings.max_dash_body_bytes)}),
        # gthread workers heartbeat from their event loop, so this only catches a hung worker.
        "timeout": 60,
        "graceful_timeout": 10,
        "keepalive": KEEPALIVE_SECONDS,
        # gunicorn >= 25.1 opens a control socket at one per-user path
        # ($HOME/.gunicorn/gunicorn.ctl) and deletes it on exit, so a second instance (a demo
        # next to the real wall, a test run) takes over or removes the first one's. NPS TV
        # needs no runtime control (restart the service instead): none.
        "control_socket_disable": True,
        # Off by default (a wall polls every second); when on, redacted like the error log.
        "accesslog": "-" if settings.access_log else None,
        "logger_class": RedactingLogger,
        "errorlog": "-",
        "loglevel": "info",
    }


class WallServer(BaseApplication):
    """gunicorn with threaded workers; each worker builds its own app and poll job."""

    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        for key, value in gunicorn_options(self.settings).items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_server(self.settings)  # in each worker, after the fork
