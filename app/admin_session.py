"""An admin in a browser: ``GET /admin`` shows a one-field form, ``POST /admin`` with the admin
token sets an admin cookie (HttpOnly, SameSite=Strict, Secure over https, 12 hours), and
``POST /admin/logout`` clears it. The gate then treats the browser as the admin token would be
(``scopes.is_admin_request()``), so the pages can offer the share dialog and the Screens page.

The cookie holds when it was issued and an HMAC of that time under the admin token, not the
token: rotating NPS_TV_ADMIN_TOKEN ends every admin session, and a leaked cookie does not
reveal the token. The server ends a session after 12 hours itself, and a sign-out ends every
admin session issued before it, in every worker and instance (a stamp in the store, read with
the share links): the cookie was one fixed value that stayed valid for as long as the token
did, whatever its Max-Age said. Wrong tokens count as failed attempts like every other token.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import time
from datetime import datetime

from flask import Flask, Response, redirect, request

from app.ingest.http import failed_attempts
from app.ingest.tokens import client_address, split_tokens, token_valid
from app.links import LinkBook
from app.redact import redact
from app.services import get_services
from app.store import StoreUnavailable

log = logging.getLogger("nps_tv.access")
ADMIN_COOKIE = "nps_tv_admin"
SESSION_SECONDS = 12 * 3600
FORM_CSS = ("body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:"
            "center;background:#0b1020;color:#e8ecf4;font:400 18px/1.4 system-ui,sans-serif}"
            "form{display:flex;flex-direction:column;gap:12px;min-width:320px}"
            "input,button{font:inherit;padding:10px;border-radius:6px;border:1px solid #5b6478}"
            "p.error{color:#ff6b6b}")


def session_value(admin_token: str, issued_ms: int) -> str:
    """The cookie value of a session of one admin token issued at ``issued_ms`` (Unix
    milliseconds): the time and its HMAC under the token, so the cookie never holds it."""
    mac = hmac.new(admin_token.encode("utf-8"), f"nps-tv admin session {issued_ms}".encode(),
                   hashlib.sha256).hexdigest()
    return f"{issued_ms}.{mac}"


def is_admin_cookie(value: str, admin_tokens: str, ended: datetime | None = None,
                    now: float | None = None) -> bool:
    """Whether ``value`` is a live session of one of the configured admin tokens: issued in
    the last ``SESSION_SECONDS``, after ``ended`` (the last sign-out), and signed by the token
    (constant time, every token compared)."""
    issued_text, _, _mac = value.partition(".")
    if not (issued_text.isascii() and issued_text.isdigit() and len(issued_text) <= 15):
        return False
    issued = int(issued_text)
    now_ms = 1000 * (time.time() if now is None else now)
    if not now_ms - 1000 * SESSION_SECONDS <= issued <= now_ms + 60_000:
        return False
    if ended is not None and issued <= ended.timestamp() * 1000:
        return False
    matched = False
    for token in split_tokens(admin_tokens):
        matched |= hmac.compare_digest(value.encode(), session_value(token, issued).encode())
    return matched


def login_page(error: str = "") -> Response:
    """The sign-in form."""
    notice = f"<p class=error>{html.escape(error)}</p>" if error else ""
    body = ("<!doctype html><html lang=en><head><meta charset=utf-8><title>NPS TV admin</title>"
            f"<style>{FORM_CSS}</style></head><body><form method=post action=/admin>"
            f"<h1>NPS TV admin</h1>{notice}<label>Admin token "
            "<input type=password name=token autocomplete=current-password autofocus>"
            "</label><button type=submit>Sign in</button></form></body></html>")
    response = Response(body, mimetype="text/html", status=401 if error else 200)
    response.headers["Cache-Control"] = "no-store"
    return response


def sign_in(book: LinkBook) -> Response:
    """``POST /admin``: the admin token from the form sets the session cookie."""
    settings = get_services().settings
    client = client_address(request.remote_addr, request.headers, settings.proxy_hops)
    wait = failed_attempts().retry_after(client)
    if wait:
        return login_page(f"Too many failed attempts; try again in {wait} s")
    if not settings.admin_token:
        return login_page("Admin sign-in is disabled: set NPS_TV_ADMIN_TOKEN on the server")
    given = (request.form.get("token") or "").strip()
    if not token_valid(given, settings.admin_token):
        failed_attempts().record(client)
        log.warning(
            "refused %s %s from %r: wrong admin token", request.method, redact(request.path),
            client)
        return login_page("That is not the admin token")
    response = redirect("/", code=303)
    # After the last sign-out even when this machine's clock runs behind the one that wrote
    # it: a session issued "before" it would be refused on the next page.
    ended = book.admin_sessions_ended()
    issued = max(int(time.time() * 1000),
                 0 if ended is None else int(ended.timestamp() * 1000) + 1)
    response.set_cookie(ADMIN_COOKIE, session_value(given, issued), max_age=SESSION_SECONDS,
                        path="/",
                        httponly=True, samesite="Strict", secure=request.is_secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def sign_out(book: LinkBook) -> Response:
    """``POST /admin/logout``: clear this browser's cookie and, when it held a live admin
    session, end every admin session issued until now. Anyone may clear their own cookie;
    only an admin ends the others' (an anonymous POST signed every admin out everywhere).
    When the store cannot be written the other sessions stay: a 503 says so."""
    settings = get_services().settings
    response = redirect("/admin", code=303)
    if is_admin_cookie(request.cookies.get(ADMIN_COOKIE, ""), settings.admin_token,
                       book.admin_sessions_ended()):
        try:
            book.end_admin_sessions()
        except StoreUnavailable as exc:
            log.warning("admin sign-out: the store is unavailable, so other admin sessions "
                        "stay until they expire: %s", exc.one_line())
            response = login_page("Signed out here; other admin sessions could not be ended "
                                  "(the store is unavailable): sign out again soon")
            response.status_code = 503
    response.delete_cookie(ADMIN_COOKIE, path="/", httponly=True, samesite="Strict")
    return response


def install_admin_session(server: Flask, book: LinkBook) -> None:
    """Register /admin (form and sign-in) and /admin/logout."""
    server.add_url_rule("/admin", "admin_form", lambda: login_page(), methods=["GET"])
    server.add_url_rule("/admin", "admin_sign_in", lambda: sign_in(book), methods=["POST"])
    server.add_url_rule("/admin/logout", "admin_sign_out", lambda: sign_out(book),
                        methods=["POST"])
