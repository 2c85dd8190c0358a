"""The gate: who may see pages, Dash requests and read APIs, and ``GET /s/<token>``.

In ``links`` mode every page, Dash request, ``/api/v1/summary`` and ``GET /api/v1/responses``
needs a valid share link (a cookie set by ``/s/<token>``) or the admin token (Bearer). Static
files, ``/health``, ingest and webhooks (their own tokens) and the admin APIs (the admin token)
pass. In ``open`` mode nothing is refused; a valid link cookie still brings its scope.

The resolved link is on ``flask.g.share_link``; pages and the API read it through
``app.scopes.current_link()`` / ``current_scope()``. Refusals say why in words, in JSON for
API and Dash paths and in a small HTML page for pages, with ``X-NPS-TV-Link`` naming the
reason (revoked, expired, unknown, missing) for the browser script.
"""

from __future__ import annotations

import html
import ipaddress
import logging
from datetime import UTC, datetime

from flask import Flask, Response, g, jsonify, redirect, request

from app.admin_session import ADMIN_COOKIE, install_admin_session, is_admin_cookie
from app.config import Settings
from app.ingest.http import failed_attempts
from app.ingest.tokens import client_address, token_valid
from app.links import LinkBook, Resolution
from app.redact import redact
from app.services import get_services

log = logging.getLogger("nps_tv.access")
MODES = ("open", "links")
COOKIE = "nps_tv_link"
EXPIRED_NOTICE_SECONDS = 86_400  # how long a screen keeps saying its link expired
LINK_HEADER = "X-NPS-TV-Link"
COOKIE_MAX_AGE = 400 * 86400  # the longest browsers keep a cookie
# Paths that pass the gate: static files, health, the share-link door, and routes that check
# their own tokens (ingest and webhooks: the ingest token; events, share links, screens: the
# admin token). GET /api/v1/responses is gated (below); its POST is ingest.
UNGATED_PREFIXES = ("/assets/", "/_dash-component-suites/", "/s/", "/api/v1/webhooks/")
# Admin APIs with their own token check: the path itself or below it, never a longer name
# (/api/v1/eventsX is a page path, gated like any other).
UNGATED_APIS = ("/api/v1/events", "/api/v1/share-links", "/api/v1/screens")
UNGATED_PATHS = frozenset({"/health", "/favicon.ico", "/_favicon.ico", "/s", "/admin",
                           "/admin/logout"})
JSON_PREFIXES = ("/api/", "/_dash-")
REFUSAL_CSS = ("body{margin:0;min-height:100vh;display:flex;align-items:center;"
               "justify-content:center;background:#0b1020;color:#e8ecf4;"
               "font:400 2vw/1.4 system-ui,sans-serif}main{text-align:center;padding:4vw}"
               "h1{font-size:4.5vw;font-weight:600;margin:0 0 2vw}p{color:#8d97ab}")
MESSAGES = {
    "missing": (401, "No access: open a share link"),
    "unknown": (403, "This link is not valid"),
    "revoked": (403, "This link was revoked"),
    "expired": (403, "This link expired"),
}


def access_mode(settings: Settings) -> str:
    """``open`` or ``links``: the setting, or by default open only where nobody else can
    reach the server (a loopback address with no reverse proxy in front)."""
    mode = settings.access.strip().lower()
    if mode:
        if mode not in MODES:
            raise ValueError(f"NPS_TV_ACCESS: must be open or links, got {settings.access!r}")
        return mode
    return "open" if reachable_from_this_machine_only(settings) else "links"


def reachable_from_this_machine_only(settings: Settings) -> bool:
    """Loopback, and no proxy forwarding others to it (NPS_TV_PROXY_HOPS is 0)."""
    return is_loopback(settings.host) and settings.proxy_hops == 0


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an interface to listen on) is reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


def open_mode_warning(settings: Settings) -> str | None:
    """The loud warning for ``open`` on a non-loopback address (None when there is none)."""
    if access_mode(settings) == "open" and not reachable_from_this_machine_only(settings):
        where = (f"listening on {settings.host}" if not is_loopback(settings.host)
                 else f"behind {settings.proxy_hops} reverse prox(ies)")
        return (f"WARNING: NPS_TV_ACCESS=open while {where}: anyone who can reach this server "
                "sees every comment and the manager view. Set NPS_TV_ACCESS=links and give "
                "out share links (nps-tv share create).")
    return None


def is_gated(method: str, path: str) -> bool:
    """Whether a request needs a link or the admin token in ``links`` mode."""
    if path in UNGATED_PATHS or path.startswith(UNGATED_PREFIXES):
        return False
    if any(path == api or path.startswith(api + "/") for api in UNGATED_APIS):
        return False
    return not (path == "/api/v1/responses" and method != "GET")


def install_gate(server: Flask, settings: Settings, book: LinkBook) -> None:
    """Register the gate (a before_request) and ``GET /s/<token>`` on ``server``."""
    mode = access_mode(settings)

    # Open only because the server listens on loopback with no proxy declared: a request a
    # proxy forwarded shows the proxy was forgotten in the settings (NPS_TV_PROXY_HOPS), and
    # everyone the proxy serves would see every comment. Refused, with what to set.
    undeclared_proxy = mode == "open" and not settings.access.strip()

    def gate():
        g.access_mode = mode
        if not is_gated(request.method, request.path):
            return None
        if undeclared_proxy and any(h in request.headers for h in FORWARDED_HEADERS):
            return undeclared_proxy_refusal()
        return check_request(mode, book)

    server.before_request(gate)

    @server.after_request
    def not_kept(response: Response) -> Response:
        # Customers' words and scores behind the gate are no shared cache's to keep (a proxy
        # or the browser's disk); an answer that says how it may be kept (the tick's ETag)
        # keeps its own header.
        if is_gated(request.method, request.path) and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-store"
        return response
    server.add_url_rule("/s/<token>", "share_link_door", lambda token: open_door(token, book))
    install_admin_session(server, book)


def check_request(mode: str, book: LinkBook):
    """None to let the request through (with ``g.share_link`` or ``g.admin`` set), or the
    refusal to send."""
    settings = get_services().settings
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Only a Bearer header is a credential here: another scheme is a proxy's in front (nginx's
    # basic auth passes its header on), and counting it as a wrong token locked people out.
    if scheme.lower() == "bearer":
        if mode == "links" and (throttled := throttle_response()) is not None:
            return throttled  # as check_bearer: no token is checked for a throttled client
        if token_valid(given.strip(), settings.admin_token):
            g.admin = True
            return None
        if mode == "links":
            return refuse_unknown_credential("the Authorization header is not the admin token")
    session = request.cookies.get(ADMIN_COOKIE, "")
    if session and is_admin_cookie(session, settings.admin_token, book.admin_sessions_ended()):
        g.admin = True  # an admin signed in at /admin: sees everything, no link scope
        return None
    token = request.cookies.get(COOKIE, "")
    if not token:
        return refusal("missing") if mode == "links" else None
    resolution = resolve_throttled(token, book)
    if isinstance(resolution, Response):
        return resolution if mode == "links" else None
    if resolution.ok:
        g.share_link = resolution.link
        book.touch(resolution.link.id, user_agent=request.user_agent.string)
        return wall_redirect(resolution.link)
    if mode == "open":
        return None
    if resolution.reason == "unavailable":
        return refusal_response(503, "unavailable", "Access cannot be checked right now "
                                "(the store is unavailable); retrying")
    return refusal(resolution.reason)


def resolve_throttled(token: str, book: LinkBook) -> Resolution | Response:
    """The token's link; unknown tokens are looked up in the store only for clients under
    the failed-attempt limit, and each one counts as a failed attempt."""
    resolution = book.resolve(token, allow_lookup=False)
    if resolution.reason != "unknown":
        return resolution
    client = client_address(request.remote_addr, request.headers,
                            get_services().settings.proxy_hops)
    wait = failed_attempts().retry_after(client)
    if wait:
        return refusal_response(429, "unknown", f"Too many invalid links from this address; "
                                f"try again in {wait} s", **{"Retry-After": str(wait)})
    resolution = book.resolve(token, allow_lookup=True)
    if resolution.reason == "unknown":
        failed_attempts().record(client)
        log.warning("refused %s %s from %r: unknown share link", request.method,
                    redact(request.path), client)
    return resolution


def throttle_response() -> Response | None:
    """429 with Retry-After for a client over the failed-attempt limit, else None."""
    client = client_address(request.remote_addr, request.headers,
                            get_services().settings.proxy_hops)
    wait = failed_attempts().retry_after(client)
    if not wait:
        return None
    return refusal_response(429, "unknown", f"Too many failed attempts from this address; "
                            f"try again in {wait} s", **{"Retry-After": str(wait)})


def refuse_unknown_credential(reason: str) -> Response:
    """403 for a wrong admin token on a gated path, counted (429 once over the limit)."""
    client = client_address(request.remote_addr, request.headers,
                            get_services().settings.proxy_hops)
    failed_attempts().record(client)
    log.warning("refused %s %s from %r: %s", request.method, redact(request.path), client,
                reason)
    return refusal("unknown")


def wall_redirect(link):
    """A wall link opens the wall: another page path goes to /tv (Dash and API paths pass)."""
    path = request.path
    if (link.role == "wall" and request.method == "GET" and path != "/tv"
            and not path.startswith(JSON_PREFIXES)):
        return redirect("/tv", code=303)
    return None


FORWARDED_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")
_warned = []


def undeclared_proxy_refusal() -> Response:
    """The 403 for a forwarded request to a server open only because no proxy was declared."""
    if not _warned:
        _warned.append(True)
        log.warning("refused a forwarded request: this server is open only to this machine "
                    "(loopback, NPS_TV_PROXY_HOPS=0), yet a reverse proxy forwards to it; set "
                    "NPS_TV_PROXY_HOPS (share links then apply) or NPS_TV_ACCESS=open")
    return refusal_response(403, "proxy", "A reverse proxy forwards to this server, which was "
                            "not told: set NPS_TV_PROXY_HOPS=1 on it (or NPS_TV_ACCESS=open)")


def refusal(reason: str) -> Response:
    """The 401/403 for a missing, unknown, revoked or expired link."""
    status, message = MESSAGES[reason]
    return refusal_response(status, reason, message)


def refusal_response(status: int, reason: str, message: str, **headers: str) -> Response:
    """JSON for API and Dash paths, a small HTML page for pages; never cached."""
    if request.path.startswith(JSON_PREFIXES):
        response = jsonify({"error": message, "link": reason})
    else:
        response = Response(refusal_page(message), mimetype="text/html")
    response.status_code = status
    response.headers[LINK_HEADER] = reason
    response.headers["Cache-Control"] = "no-store"
    response.headers.update(headers)
    return response


def refusal_page(message: str) -> str:
    """A plain page that says why, readable on a wall across the room."""
    text = html.escape(message)
    return ("<!doctype html><html lang=en><head><meta charset=utf-8><title>NPS TV</title>"
            "<meta name=viewport content='width=device-width, initial-scale=1'>"
            f"<style>{REFUSAL_CSS}</style></head>"
            f"<body><main><h1>{text}</h1><p>Ask whoever runs NPS TV for a new share link.</p>"
            "</main></body></html>")


def open_door(token: str, book: LinkBook) -> Response:
    """``GET /s/<token>``: check the token, set the cookie, and send the browser on (303) so
    the token leaves the address bar."""
    resolution = resolve_throttled(token, book)
    if isinstance(resolution, Response):
        return resolution
    if resolution.reason == "unavailable":
        return refusal_response(503, "unavailable", "The link cannot be checked right now; "
                                "try again in a minute")
    if not resolution.ok:
        return refusal(resolution.reason)
    link = resolution.link
    # The link's screen goes along in the address (it is no secret), so the page opens on it
    # at once; the pages still apply the link's scope whatever the address says.
    target = "/tv" if link.role == "wall" else "/"
    response = redirect(f"{target}?{link.screen}" if link.screen else target, code=303)
    max_age = COOKIE_MAX_AGE
    if link.expires_at is not None:
        # The cookie outlives the link by a day, so an open screen is told "This link
        # expired" (the server refuses the token from then on) rather than "No access".
        left = int((link.expires_at - datetime.now(UTC)).total_seconds()) + EXPIRED_NOTICE_SECONDS
        max_age = max(1, min(max_age, left))
    # Lax, not Strict: a link opened from a chat or a mail is a cross-site navigation, and
    # browsers then withhold Strict cookies from the redirect that follows (the wall would
    # load without its cookie). Lax still keeps the cookie off cross-site subrequests and POSTs.
    response.set_cookie(COOKIE, token, max_age=max_age, path="/", httponly=True,
                        samesite="Lax", secure=request.is_secure)
    response.headers["Cache-Control"] = "no-store"
    book.touch(link.id, user_agent=request.user_agent.string)
    return response
