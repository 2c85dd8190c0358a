"""Web hardening: a Host allowlist against DNS rebinding (in both access modes), security
headers on every response type, a frame-ancestors setting that cannot inject, and log lines
without tokens."""

from __future__ import annotations

import logging
import socket

import pytest

from app.hardening import allowed_host_names, check_frame_ancestors, host_allowed
from app.redact import FILTER, install_log_redaction, redact
from app.web import create_app

ADMIN = "admin-token-0123456789abcdef"


@pytest.fixture(params=["open", "links"])
def guarded_app(request, settings, sqlite_store):
    return create_app(settings.replace(access=request.param, admin_token=ADMIN,
                                       allowed_hosts=("nps.example.com", ".corp.example")),
                      store=sqlite_store)


@pytest.mark.parametrize("host", ["evil.example", "attacker.com:8050", "nps.example.com.evil.io",
                                  "corp.example.evil"])
def test_a_foreign_host_is_refused_in_both_modes(guarded_app, host):
    client = guarded_app.server.test_client()
    for path in ("/tv", "/health", "/api/v1/summary", "/_dash-layout", "/assets/nps_tv.css"):
        response = client.get(path, headers={"Host": host})
        assert response.status_code == 400, (host, path)
        assert "is not served here" in response.get_data(as_text=True)
        assert "NPS_TV_ALLOWED_HOSTS" in response.get_data(as_text=True)


@pytest.mark.parametrize("host", ["localhost", "localhost:8050", "127.0.0.1:8050", "[::1]:8050",
                                  "192.168.1.20", "nps.example.com", "NPS.example.com.",
                                  "tv.corp.example", f"{socket.gethostname()}:8050"])
def test_ip_literals_localhost_this_machine_and_listed_names_are_served(guarded_app, host):
    response = guarded_app.server.test_client().get("/health", headers={"Host": host})
    assert response.status_code == 200


def test_the_public_url_host_is_allowed(settings):
    names, _ = allowed_host_names(settings.replace(public_url="https://wall.example.org/"))
    assert host_allowed("wall.example.org", names, ())
    assert not host_allowed("other.example.org", names, ())


def test_security_headers_on_every_response_type(guarded_app):
    client = guarded_app.server.test_client()
    auth = {"Authorization": f"Bearer {ADMIN}"}
    responses = {
        "page": client.get("/tv", headers=auth),
        "dash json": client.get("/_dash-layout", headers=auth),
        "api": client.get("/api/v1/summary", headers=auth),
        "asset": client.get("/assets/nps_tv.css"),
        "health": client.get("/health"),
        "refusal": client.get("/api/v1/events"),
        "not found": client.get("/api/v1/nothing-here", headers=auth),
        "share door": client.get("/s/" + "x" * 43),
    }
    for kind, response in responses.items():
        headers = response.headers
        assert headers["Referrer-Policy"] == "no-referrer", kind
        assert headers["X-Content-Type-Options"] == "nosniff", kind
        csp = headers["Content-Security-Policy"]
        assert "frame-ancestors 'self'" in csp and "script-src 'self' 'sha256-" in csp, kind
        assert "'unsafe-eval'" not in csp and "script-src 'self' 'unsafe-inline'" not in csp
        assert headers["X-Frame-Options"] == "SAMEORIGIN", kind


def test_a_response_keeps_its_own_security_headers_and_gets_each_once(guarded_app):
    server = guarded_app.server

    @server.get("/own-headers")
    def own_headers():
        return "x", 200, {"content-security-policy": "default-src 'none'",
                          "X-Frame-Options": "DENY"}

    response = server.test_client().get("/own-headers",
                                        headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200
    assert response.headers.getlist("Content-Security-Policy") == ["default-src 'none'"]
    assert response.headers.getlist("X-Frame-Options") == ["DENY"]
    for name in ("Referrer-Policy", "X-Content-Type-Options", "Cross-Origin-Opener-Policy"):
        assert len(response.headers.getlist(name)) == 1, name


def test_oversized_bodies_refused_before_flask_carry_the_headers_too(guarded_app):
    response = guarded_app.server.test_client().post(
        "/_dash-update-component", data=b"x" * 300_000, content_type="application/json")
    assert response.status_code == 413
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_frame_ancestors_is_configurable_for_signage_players(settings, sqlite_store):
    guarded_app = create_app(settings.replace(
        frame_ancestors="'self' https://player.example.com"), store=sqlite_store)
    response = guarded_app.server.test_client().get("/tv")
    assert "frame-ancestors 'self' https://player.example.com" in response.headers[
        "Content-Security-Policy"]
    assert "X-Frame-Options" not in response.headers  # it cannot name an origin


@pytest.mark.parametrize("value", ["'self'; script-src *", "https://a.com,https://b.com",
                                   "", "'none' https://a.com", "https://a.com\r\nX: y"])
def test_frame_ancestors_that_could_inject_are_refused(value):
    with pytest.raises(ValueError, match="NPS_TV_FRAME_ANCESTORS"):
        check_frame_ancestors(value)


@pytest.mark.parametrize("line, secret", [
    ('"POST /api/v1/webhooks/delighted?token=abcdefSECRET123 HTTP/1.1" 200', "abcdefSECRET123"),
    ('"GET /s/Zm9vYmFyU0VDUkVUc2hhcmVsaW5r HTTP/1.1" 303', "Zm9vYmFyU0VDUkVUc2hhcmVsaW5r"),
    ("GET /x?a=1&TOKEN=abcSECRET&b=2", "abcSECRET"),
    ("GET /x?access_token=abcSECRET", "abcSECRET"),
    ("refused: Authorization: Bearer abcSECRET.xyz", "abcSECRET"),
    ("GET /x%3Ftoken%3DabcSECRET", "abcSECRET"),
    # a name percent-encoded is the same parameter to the app: it was logged in clear
    ('"POST /api/v1/webhooks/delighted?tok%65n=abcSECRET HTTP/1.1" 201', "abcSECRET"),
    ("GET /x?a=1&%74%6F%6B%65%6E=abcSECRET", "abcSECRET"),
    ("GET /x?api%5fkey=abcSECRET", "abcSECRET"),
])
def test_redact_removes_tokens_from_log_lines(line, secret):
    cleaned = redact(line)
    assert secret not in cleaned and "(redacted)" in cleaned


@pytest.mark.parametrize("line", ["GET /x?tokens=1&monkey=2&keys=3", "GET /x?%74okenish=1"])
def test_redact_leaves_other_parameters_alone(line):
    assert redact(line) == line


def test_werkzeug_and_last_resort_logs_are_redacted(caplog):
    install_log_redaction()
    install_log_redaction()  # twice adds the filter once
    werkzeug = logging.getLogger("werkzeug")
    assert werkzeug.filters.count(FILTER) == 1
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        werkzeug.info('%s - "%s" %s', "127.0.0.1", "GET /s/tokenSECRETvalue123 HTTP/1.1", 303)
    assert "tokenSECRETvalue123" not in caplog.text
    assert logging.lastResort is None or FILTER in logging.lastResort.filters
