"""An admin in a browser: ``GET /admin`` shows a one-field form, ``POST /admin`` with the admin
token sets an admin cookie (HttpOnly, SameSite=Strict, Secure over https, 12 hours), and
``POST /admin/logout`` clears it. The gate then treats the browser as the admin token would be
(``scopes.is_admin_request()``), so the pages can offer the share dialog and the Screens page.

The cookie holds an HMAC of the admin token, not the token: rotating NPS_TV_ADMIN_TOKEN ends
every admin session, and a leaked cookie does not reveal the token. Wrong tokens count as
failed attempts like every other token.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging

from flask import Flask, Response, redirect, request

from app.ingest.http import failed_attempts
from app.ingest.tokens import client_address, split_tokens, token_valid
from app.redact import redact
from app.services import get_services

log = logging.getLogger("nps_tv.access")
ADMIN_COOKIE = "nps_tv_admin"
SESSION_SECONDS = 12 * 3600
FORM_CSS = ("body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:"
            "center;background:#0b1020;color:#e8ecf4;font:400 18px/1.4 system-ui,sans-serif}"
            "form{display:flex;flex-direction:column;gap:12px;min-width:320px}"
            "input,button{font:inherit;padding:10px;border-radius:6px;border:1px solid #5b6478}"
            "p.error{color:#ff6b6b}")


def session_value(admin_token: str) -> str:
    """The cookie value for one admin token: an HMAC, so the cookie never holds the token."""
    return hmac.new(admin_token.encode("utf-8"), b"nps-tv admin session",
                    hashlib.sha256).hexdigest()


def is_admin_cookie(value: str, admin_tokens: str) -> bool:
    """Whether ``value`` is the session of one of the configured admin tokens (constant time,
    every token compared)."""
    if not value:
        return False
    matched = False
    for token in split_tokens(admin_tokens):
        matched |= hmac.compare_digest(value.encode(), session_value(token).encode())
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


def sign_in() -> Response:
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
    response.set_cookie(ADMIN_COOKIE, session_value(given), max_age=SESSION_SECONDS, path="/",
                        httponly=True, samesite="Strict", secure=request.is_secure)
    response.headers["Cache-Control"] = "no-store"
    return response


def sign_out() -> Response:
    """``POST /admin/logout``: clear the session cookie."""
    response = redirect("/admin", code=303)
    response.delete_cookie(ADMIN_COOKIE, path="/", httponly=True, samesite="Strict")
    return response


def install_admin_session(server: Flask) -> None:
    """Register /admin (form and sign-in) and /admin/logout."""
    server.add_url_rule("/admin", "admin_form", lambda: login_page(), methods=["GET"])
    server.add_url_rule("/admin", "admin_sign_in", sign_in, methods=["POST"])
    server.add_url_rule("/admin/logout", "admin_sign_out", sign_out, methods=["POST"])
