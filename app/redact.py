"""Secrets never reach a log line: ``?token=`` values and ``/s/<token>`` share-link paths are
replaced by ``(redacted)`` in gunicorn's access and error logs, werkzeug's request log and
Python's last-resort handler (where our own warnings go under gunicorn)."""

from __future__ import annotations

import logging
import re

REDACTED = "(redacted)"
SECRET_NAMES = ("token", "access_token", "api_key", "key", "secret", "signature")


def _spelled(name: str) -> str:
    """A pattern for ``name`` with any of its characters percent-encoded (``tok%65n`` is the
    ``token`` parameter to the app, and was written to the access log in clear)."""
    return "".join(f"(?:{re.escape(ch)}|%{ord(ch):02x})" for ch in name)


# A query parameter that carries a credential, anywhere in a URL or a log line.
SECRET_PARAM = re.compile(
    r"(?i)((?:[?&]|%3F|%26)(?:" + "|".join(map(_spelled, SECRET_NAMES)) + r")(?:=|%3D))"
    r"[^&\s\"'#]*")
SHARE_PATH = re.compile(r"(/s/)[^\s?#\"'/]+")
BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """``text`` with every token-bearing query value, share-link path and bearer token cut."""
    if "/s/" in text:
        text = SHARE_PATH.sub(r"\1" + REDACTED, text)
    if "=" in text or "%3" in text.upper():
        text = SECRET_PARAM.sub(r"\1" + REDACTED, text)
    if "earer" in text:
        text = BEARER.sub(r"\1" + REDACTED, text)
    return text


class RedactingFilter(logging.Filter):
    """A logging filter that redacts the formatted message (and drops its arguments)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken record is the formatter's to report
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


FILTER = RedactingFilter()


def install_log_redaction() -> None:
    """Redact werkzeug's request log, the last-resort handler and the root's handlers.

    Safe to call more than once (the same filter object is added only once).
    """
    targets: list = [logging.getLogger("werkzeug"), *logging.getLogger().handlers]
    if logging.lastResort is not None:
        targets.append(logging.lastResort)
    for target in targets:
        if FILTER not in target.filters:
            target.addFilter(FILTER)
