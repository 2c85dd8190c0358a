"""Log output a service manager or a container platform collects cleanly: one line per event,
on standard error, with time, process, level and logger (gunicorn's own lines look alike)."""

from __future__ import annotations

import logging
import sys

from gunicorn.glogging import Logger

from app.redact import FILTER, redact

# Libraries that log routine work at INFO: every poll run (each few seconds, per worker), every
# schema check at start. Their warnings and errors still show.
QUIET = ("apscheduler", "alembic")
FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"


class OneLineFormatter(logging.Formatter):
    """A record's text, traceback included, on one line: journald and container logs keep
    each line as one event, so a traceback over 30 lines would become 30 events."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).replace("\r", "").replace("\n", " | ")


class StderrHandler(logging.StreamHandler):
    """A handler on whatever ``sys.stderr`` is when a record is written."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Send NPS TV's log records (and any library's) to stderr, one line each.

    Like ``logging.basicConfig``, it leaves a root logger that already has handlers alone: a
    host that configured logging (or a test runner) keeps its own."""
    root = logging.getLogger()
    if root.handlers:
        return
    handler = StderrHandler()
    handler.setFormatter(OneLineFormatter(FORMAT, "%Y-%m-%d %H:%M:%S %z"))
    root.addHandler(handler)
    root.setLevel(level)
    for chatty in QUIET:
        logging.getLogger(chatty).setLevel(logging.WARNING)


class RedactingLogger(Logger):
    """gunicorn's logger with tokens cut from every access-log atom (``?token=`` values,
    ``/s/<token>`` paths) and from error-log lines, which can quote a request line."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            if FILTER not in log.filters:
                log.addFilter(FILTER)

    def atoms(self, resp, req, environ, request_time) -> dict:
        return {key: redact(value) if isinstance(value, str) else value
                for key, value in super().atoms(resp, req, environ, request_time).items()}
