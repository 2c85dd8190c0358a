"""What every request must respect before any route sees it: a body within the route's limit,
and a path and query without NUL characters (no store can hold one; PostgreSQL refuses them
with an error)."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable

DASH_PREFIX = "/_dash-"


class RequestLimits:
    """WSGI middleware: 413 JSON for a body over the limit of its route, 400 for a NUL.

    Dash's routes (``/_dash-update-component`` and its siblings) get ``dash_limit``, every other
    route ``limit``. A declared Content-Length is checked before reading; a body without one
    (``Transfer-Encoding: chunked``) is read up to the limit plus one byte and handed on from
    memory, so no route ever holds more than its limit.
    """

    def __init__(self, wsgi_app: Callable, limit: int, dash_limit: int):
        self.wsgi_app = wsgi_app
        self.limit = limit
        self.dash_limit = dash_limit

    def limit_for(self, path: str) -> int:
        """The body limit of a request path."""
        return self.dash_limit if path.startswith(DASH_PREFIX) else self.limit

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if "\x00" in path:
            return _refuse(start_response, 400, "invalid request", "path: contains a NUL character")
        if "%00" in environ.get("QUERY_STRING", "") or "\x00" in environ.get("QUERY_STRING", ""):
            return _refuse(start_response, 400, "invalid request",
                           "query: contains a NUL character (%00)")
        limit = self.limit_for(path)
        declared = environ.get("CONTENT_LENGTH", "")
        if declared:
            if not declared.isdigit() or not declared.isascii():
                return _refuse(start_response, 400, "invalid request",
                               "Content-Length: is not a number")
            if int(declared) > limit:
                return _too_large(start_response, f"is {int(declared)} bytes", limit)
        elif "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
            body = environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                return _too_large(start_response, "is larger than allowed", limit)
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
        return self.wsgi_app(environ, start_response)


def _too_large(start_response: Callable, what: str, limit: int) -> list[bytes]:
    return _refuse(start_response, 413, "payload too large",
                   f"body: {what}; the limit is {limit} bytes on this route", limit=limit)


def _refuse(start_response: Callable, status: int, error: str, detail: str,
            **extra: int) -> list[bytes]:
    # Same shape as the API's problem responses (app/ingest/http.py ApiError).
    path, _, message = detail.partition(": ")
    body = json.dumps({"error": error, "detail": detail,
                       "problems": [{"path": path, "message": message}], **extra}).encode()
    reason = {400: "Bad Request", 413: "Content Too Large"}[status]
    # The security headers app/hardening.py adds to every Flask response, for these too.
    start_response(f"{status} {reason}", [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body))),
                                          ("X-Content-Type-Options", "nosniff"),
                                          ("Referrer-Policy", "no-referrer"),
                                          ("Content-Security-Policy",
                                           "default-src 'none'; frame-ancestors 'none'")])
    return [body]
