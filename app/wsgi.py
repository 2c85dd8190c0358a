"""Runs the server under gunicorn from the CLI (the Procfile calls gunicorn directly)."""

from __future__ import annotations

from gunicorn.app.base import BaseApplication

from app.config import Settings


class WallServer(BaseApplication):
    """gunicorn with threaded workers; each worker builds its own app and poll job."""

    def __init__(self, settings: Settings):
        self.settings = settings
        super().__init__()

    def load_config(self) -> None:
        s = self.settings
        options = {
            "bind": f"{s.host}:{s.port}",
            "workers": max(1, s.workers),
            "threads": max(1, s.threads),
            "worker_class": "gthread",
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": None,
            "errorlog": "-",
            "loglevel": "info",
        }
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        from app.web import create_app, start_jobs, warm_up

        dash_app = create_app(self.settings)
        warm_up(dash_app)
        start_jobs(dash_app)
        return dash_app.server
