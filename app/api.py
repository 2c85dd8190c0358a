"""JSON endpoints and /health: they read the snapshot, never the database (but /health's ping)."""

from __future__ import annotations

import logging
import math
import threading
import time
from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from app import __version__
from app.access import access_mode, open_mode_warning
from app.health import health_problems
from app.ingest.http import ApiError
from app.ingest.rules import TimeRange
from app.redact import redact
from app.scopes import OutOfScope, current_scope, scoped_args
from app.services import get_services
from app.store import StoreUnavailable
from app.views import RequestError, View, ViewRequest
from app.windows import days_window

API_PREFIX = "/api/v1"
log = logging.getLogger(__name__)


def out_of_scope(exc: OutOfScope):
    """A page or callback asked for more than its share link shows (an edited address)."""
    return ApiError.single(403, exc.field, exc.reason, error="out of scope",
                           **{"X-NPS-TV-Link": "scope"}).to_response()


# Every wall screen asks /health every 10 s (its watchdog): 100 pings a second for 1,000
# screens, each a pooled connection and a round trip (1.2 ms of CPU on PostgreSQL, measured).
# A good ping stands for this long in a worker; a failed one is asked again every time.
GOOD_PING_SECONDS = 1.0


def database_answers(services) -> bool:
    """The store's ping, or a good one from less than ``GOOD_PING_SECONDS`` ago."""
    now = time.monotonic()
    if now - getattr(services, "_good_ping_at", -math.inf) < GOOD_PING_SECONDS:
        return True
    ok = services.store.ping()
    if ok:
        services._good_ping_at = now  # noqa: SLF001 - one per app, beside the services
    return ok


class RefusalLog:
    """One warning per refused request (a webhook's bad field is otherwise lost without a
    trace: nobody reads a vendor's delivery log): the method, the path without its query and
    the fields refused, never their values. At most one line per route and status every
    ``every`` seconds, saying how many more there were, so a flood of bad requests cannot
    flood the log."""

    def __init__(self, every: float = 10.0):
        self.every = every
        self._last: dict[tuple[str, str, int], tuple[float, int]] = {}
        self._lock = threading.Lock()

    def note(self, method: str, path: str, error: ApiError, route: str | None = None) -> None:
        """Log ``error`` for ``path``; the limit counts per ``route`` (the URL rule: a path
        made up anew for every request is one route, not a line each)."""
        key = (method, route or "(no route)", error.status)
        now = time.monotonic()
        with self._lock:
            last, held = self._last.get(key, (-math.inf, 0))
            if now - last < self.every:
                self._last[key] = (last, held + 1)
                return
            if len(self._last) > 1000:
                self._last.clear()
            self._last[key] = (now, 0)
        fields = ", ".join(dict.fromkeys(str(p.get("path", "")) for p in error.problems))
        more = f" ({held} more like it before)" if held else ""
        # The path (decoded) and the fields can hold what the client sent: made printable, so
        # a line break cannot forge a line of its own.
        log.warning("refused %s %s (%d): %s%s", method, printable(redact(path[:200])),
                    error.status, printable(fields[:300]), more)


REFUSALS = RefusalLog()


def printable(text: str) -> str:
    """``text`` with every character a log line should not hold (line breaks, controls)
    shown as ``?``."""
    return "".join(ch if ch.isprintable() else "?" for ch in text)


def build_blueprint() -> Blueprint:
    """The Flask blueprint with /health and /api/v1/*."""
    bp = Blueprint("nps_api", __name__)

    @bp.app_errorhandler(ApiError)
    def refused(error: ApiError):
        # The one JSON error handler for every route: REST, events, webhooks, limits.
        if error.status not in (401, 403, 429):  # those are logged where they are decided
            REFUSALS.note(request.method, request.path, error,
                          request.url_rule.rule if request.url_rule else None)
        return error.to_response()

    bp.app_errorhandler(OutOfScope)(out_of_scope)
    @bp.app_errorhandler(StoreUnavailable)
    def store_unavailable(exc: StoreUnavailable):
        # Registered once for the whole app: REST, webhooks, events and anything later.
        # One line per failure, no traceback: an outage would otherwise flood the log.
        log.warning("store unavailable: %s %s: %s", request.method, request.path,
                    exc.one_line())
        retry = retry_after_seconds(get_services().settings.write_timeout_seconds)
        return ApiError.single(
            503, "store", f"the response store is unavailable ({exc.error}); retry in {retry} s "
                          "(repeats are safe with external_id or an Idempotency-Key header)",
            error="store unavailable", **{"Retry-After": str(retry)}).to_response()

    @bp.get("/health")
    def health():
        services = get_services()
        database_ok = database_answers(services)
        problems, error = health_problems(services, database_ok)
        body = {
            "status": "ok" if not problems else "degraded",
            "database": "reachable" if database_ok else "unreachable",
            "error": error,
            "problems": problems,
            "version": __version__,
            "build_id": services.build_id,
            "write_failures": services.store.writes.failures,
            "last_write_error": services.store.writes.last_error,
            **services.poller.health(),
            "access": access_mode(services.settings),
        }
        warning = open_mode_warning(services.settings)
        if warning:
            body["warnings"] = [*body.get("warnings", []), warning.removeprefix("WARNING: ")]
        return jsonify(body), 503 if problems else 200

    @bp.get(f"{API_PREFIX}/summary")
    def summary():
        services = get_services()
        req = view_request(link_scoped_args(services.settings.segment_fields))
        return jsonify(summary_json(services.poller.view(req), rest=rest_visible()))

    return bp


def view_request(args) -> ViewRequest:
    """The window and segment filters of an API request (``window`` or ``from``/``to``, the
    segment fields), under the settings' defaults; ApiError 400 naming a bad parameter."""
    settings = get_services().settings
    try:
        return ViewRequest.parse(args, settings.segment_fields,
                                 days_window(settings.window_days),
                                 TimeRange.from_settings(settings))
    except RequestError as exc:
        path, _, message = str(exc).partition(": ")
        raise ApiError.single(400, path, message) from None


def rest_visible() -> bool:
    """Whether the request may see its score against the rest of the responses: not under a
    link limited to some segments (the rest is what it may not see, even summed)."""
    scope = current_scope()
    return scope is None or not scope.segments


def link_scoped_args(segment_fields: tuple[str, ...]):
    """The request's query under its share link's scope (as is without a link); 403 naming
    the field when it asks for segments beyond the link's."""
    scope = current_scope()
    if scope is None:
        return request.args
    try:
        return scoped_args(request.args, scope, segment_fields)
    except OutOfScope as exc:
        raise ApiError.single(403, exc.field, exc.reason, error="out of scope") from None


def retry_after_seconds(write_timeout: float) -> int:
    """Retry-After for a 503: about one write's wait, at least a second."""
    return max(1, math.ceil(write_timeout))


def summary_json(view: View, rest: bool = True) -> dict:
    """The /api/v1/summary body for a view (``rest`` False: without the comparison with the
    responses outside the view's segments)."""
    body = view.current.as_dict()
    body.update({
        "window": {
            "label": view.label,
            "start": view.start.isoformat(),
            "end": view.end.isoformat(),
            "segments": {name: list(values) for name, values in view.request.segments},
        },
        "previous": view.previous.as_dict() if view.previous is not None else None,
        "delta": round(view.delta, 4) if view.delta is not None else None,
        # The delta's standard error, z and whether it is beyond noise (README: "Is a change
        # real?"); None when either window is under the minimum sample.
        "change": view.change.as_dict() if view.change is not None else None,
        # With a segment filter: the filtered score against every other response of the
        # window, with the same test (None without a filter).
        "versus_rest": _versus_rest_json(view) if rest else None,
        # The wall's "what changed" sentences (app/changes.py), largest effect first.
        "what_changed": [finding.as_dict() for finding in view.changes],
        # Topics by effect on the score, each with its mentions by tone (README: "Topics").
        "topics": [row.as_dict() for row in view.topics],
        "as_of": view.as_of.astimezone(UTC).isoformat(),
        "snapshot_version": view.version,
        "generated_at": datetime.now(UTC).isoformat(),
    })
    return body


def _versus_rest_json(view: View) -> dict | None:
    if view.rest is None:
        return None
    change = view.versus_rest.as_dict() if view.versus_rest is not None else None
    return {"rest": view.rest.as_dict(), "change": change}
