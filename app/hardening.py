"""What every response and request must respect on the open internet: a Host allowlist
(DNS rebinding), security headers on every response type, and the Content-Security-Policy
that Dash and Plotly work under."""

from __future__ import annotations

import ipaddress
import re
import socket
from urllib.parse import urlsplit

from flask import Flask, Response, request

from app.config import Settings

# The renderer's inline script (dash/dash.py, interpolate_index) is allowed by its hash, the
# way Dash.csp_hashes() documents. Styles: Plotly and Dash set inline style attributes, and
# CSP cannot hash attributes, so style-src keeps 'unsafe-inline'. Plotly.js 2.x and later needs
# no eval (tests/browser/test_access_browser.py checks the wall under this policy).
CSP_TEMPLATE = ("default-src 'self'; script-src 'self' {scripts}; "
                "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
                "font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
                "object-src 'none'; base-uri 'none'; form-action 'self'; "
                "frame-ancestors {frame_ancestors}")
SOURCE_RE = re.compile(r"^('self'|'none'|\*|(https?://)?(\*\.)?[A-Za-z0-9.-]+(:[0-9]{1,5})?"
                       r"|https?:)$", re.ASCII)


def check_frame_ancestors(value: str) -> str:
    """The setting as a CSP source list; ValueError naming the variable when it could inject
    another directive or header."""
    sources = value.split()
    if not sources or not all(SOURCE_RE.match(s) for s in sources):
        raise ValueError(f"NPS_TV_FRAME_ANCESTORS: must be 'self', 'none' or origins like "
                         f"https://player.example.com separated by spaces, got {value!r}")
    if "'none'" in sources and len(sources) > 1:
        raise ValueError("NPS_TV_FRAME_ANCESTORS: 'none' cannot be combined with other sources")
    return " ".join(sources)


def allowed_host_names(settings: Settings) -> tuple[frozenset[str], tuple[str, ...]]:
    """Exact names and suffixes (leading dot) the server answers to, besides IP literals."""
    names = {"localhost"}
    hostname = socket.gethostname().lower().rstrip(".")
    if hostname:
        names |= {hostname, f"{hostname}.local", hostname.split(".")[0]}
    if settings.public_url:
        public = (urlsplit(settings.public_url).hostname or "").lower()
        if public:
            names.add(public)
    suffixes = []
    for entry in settings.allowed_hosts:
        entry = entry.strip().lower().rstrip(".")
        if entry.startswith("."):
            suffixes.append(entry)
        elif entry:
            names.add(entry)
    return frozenset(names), tuple(suffixes)


def host_name(host_header: str) -> str:
    """The name in a Host header, without port or IPv6 brackets, lower case."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1:host.find("]")] if "]" in host else host
    if host.count(":") == 1:
        host = host.rsplit(":", 1)[0]
    return host.rstrip(".")


def host_allowed(host_header: str, names: frozenset[str], suffixes: tuple[str, ...]) -> bool:
    """IP literals, the listed names, subdomains of a listed suffix, or everything with '*'."""
    host = host_name(host_header)
    if "*" in names or host in names:
        return True
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return any(host.endswith(suffix) or host == suffix[1:] for suffix in suffixes)


def install_hardening(server: Flask, settings: Settings, script_hashes: list[str]) -> None:
    """Refuse foreign Host names first, and add the security headers to every response."""
    names, suffixes = allowed_host_names(settings)
    csp = CSP_TEMPLATE.format(scripts=" ".join(script_hashes),
                              frame_ancestors=check_frame_ancestors(settings.frame_ancestors))
    frame_options = {"'none'": "DENY", "'self'": "SAMEORIGIN"}.get(
        settings.frame_ancestors.strip())

    def refuse_foreign_host():
        if not host_allowed(request.host, names, suffixes):
            shown = host_name(request.host)[:100]
            return Response(
                f"Host {shown!r} is not served here. If this is a name of this server, add it "
                "to NPS_TV_ALLOWED_HOSTS (this refusal protects against DNS rebinding).\n",
                status=400, mimetype="text/plain")
        return None

    server.before_request_funcs.setdefault(None, []).insert(0, refuse_foreign_host)

    defaults = [("Content-Security-Policy", csp), ("Referrer-Policy", "no-referrer"),
                ("X-Content-Type-Options", "nosniff"),
                ("Cross-Origin-Opener-Policy", "same-origin")]
    if frame_options:
        defaults.append(("X-Frame-Options", frame_options))

    @server.after_request
    def security_headers(response: Response) -> Response:
        # Each header only where the response has not set its own. One pass over the
        # response's few headers: werkzeug's setdefault raised and caught a KeyError for each
        # missing header, a tenth of a wall tick's CPU (bench_requests.py).
        headers = response.headers
        present = {name.lower() for name in headers.keys()}
        for name, value in defaults:
            if name.lower() not in present:
                headers.add(name, value)
        return response
