"""Tokens: length and distinctness checked at start, several valid at once for rotation,
per-vendor webhook tokens, and failed attempts logged (never the token) and slowed per client."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from app.cli import demo_token, main
from app.config import Settings
from app.ingest.tokens import (
    TOKEN_SETTINGS,
    FailedAttempts,
    check_tokens,
    client_address,
    token_valid,
)
from app.services import get_services
from app.web import create_app

INGEST_A = "ingest-token-aaaa-0123456789"
INGEST_B = "ingest-token-bbbb-0123456789"
ADMIN_A = "admin-token-aaaa-0123456789"
ADMIN_B = "admin-token-bbbb-0123456789"
VENDOR_A = "delighted-url-aaaa-0123456789"
VENDOR_B = "delighted-url-bbbb-0123456789"
WRONG = "not-a-token-at-all-0123456789"
DELIGHTED = {"event_type": "survey_response.created", "event_id": "e1", "event_data": {
    "id": "5435", "survey_type": "nps", "score": 9, "comment": None, "created_at": 1732186844,
    "updated_at": 1732186844, "person_properties": None}}
ASKNICELY = {"count": 1, "question": {
    "id": "345094", "score": "10", "comment": "", "responded": "1714990125"}}


def build(settings: Settings, store=None, **changes):
    """A test client and the store of an app with ``changes`` to the settings."""
    dash_app = create_app(settings.replace(**changes), store=store)
    return dash_app.server.test_client(), get_services(dash_app).store


def webhook(client, vendor: str = "delighted", token: str | None = None, addr="10.0.0.1",
            headers=None, body=None):
    query = f"?token={token}" if token is not None else ""
    return client.post(f"/api/v1/webhooks/{vendor}{query}",
                       data=json.dumps(body or (ASKNICELY if vendor == "asknicely" else DELIGHTED)),
                       content_type="application/json", headers=headers or {},
                       environ_base={"REMOTE_ADDR": addr})


def rest_post(client, token: str, external_id: str = "r1", addr="10.0.0.1"):
    return client.post("/api/v1/responses", json={"score": 9, "external_id": external_id},
                       headers={"Authorization": f"Bearer {token}"},
                       environ_base={"REMOTE_ADDR": addr})


# -- the rules, checked at start ------------------------------------------------------------------

@pytest.mark.parametrize("name", TOKEN_SETTINGS)
def test_a_short_token_stops_the_start_naming_the_setting(settings, name):
    with pytest.raises(ValueError) as refused:
        create_app(settings.replace(**{name: "fifteen-chars-x"}))
    message = str(refused.value)
    assert message.startswith(f"NPS_TV_{name.upper()}: the token is 15 characters")
    assert "at least 16" in message and "fifteen-chars-x" not in message


def test_a_short_token_among_several_is_named_by_its_position():
    with pytest.raises(ValueError, match="NPS_TV_INGEST_TOKEN: token 2 of 2 is 4 characters"):
        check_tokens(Settings(ingest_token=f"{INGEST_A}, tiny"))


@pytest.mark.parametrize("name", [n for n in TOKEN_SETTINGS if n != "admin_token"])
def test_the_admin_token_must_differ_from_every_ingest_and_webhook_token(settings, name):
    with pytest.raises(ValueError) as refused:
        create_app(settings.replace(admin_token=f"{ADMIN_A},{INGEST_B}", **{name: INGEST_B}))
    message = str(refused.value)
    assert f"NPS_TV_ADMIN_TOKEN and NPS_TV_{name.upper()} share a token" in message
    assert INGEST_B not in message


def test_sixteen_characters_and_distinct_tokens_start(settings):
    sixteen = "x" * 16
    check_tokens(Settings(ingest_token=sixteen, admin_token="y" * 16, delighted_token=sixteen))
    client, _ = build(settings, ingest_token=f"{INGEST_A},{INGEST_B}", admin_token=ADMIN_A)
    assert client.get("/health").status_code in (200, 503)


@pytest.mark.parametrize("command", ["serve", "demo"])
@pytest.mark.parametrize("variables, reason", [
    ({"NPS_TV_INGEST_TOKEN": "tiny-token"}, "NPS_TV_INGEST_TOKEN: the token is 10 characters"),
    ({"NPS_TV_INGEST_TOKEN": INGEST_A, "NPS_TV_ADMIN_TOKEN": INGEST_A},
     "NPS_TV_ADMIN_TOKEN and NPS_TV_INGEST_TOKEN share a token"),
])
def test_the_cli_refuses_bad_tokens_in_one_line_and_exits_2(env, capsys, command, variables,
                                                            reason):
    for name, value in variables.items():
        env.setenv(name, value)
    assert main([command, "--port", "9301"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"configuration error: {reason}")
    assert captured.err.count("\n") == 1 and "Traceback" not in captured.err
    assert all(value not in captured.err for value in variables.values())


def test_settings_still_prints_with_a_short_token(env, capsys):
    env.setenv("NPS_TV_INGEST_TOKEN", "tiny-token")  # so the user can see what is set
    assert main(["settings"]) == 0
    assert "tiny-token" not in capsys.readouterr().out


def test_the_demo_token_satisfies_the_rules(settings, capsys):
    path = Path(settings.data_dir) / "demo-token"
    path.write_text("short")  # left by an older version, or typed by hand
    token = demo_token(settings)
    assert len(token) >= 16 and token != "short"
    check_tokens(settings.replace(ingest_token=token))
    assert demo_token(settings) == token  # kept once valid
    assert token not in capsys.readouterr().out


# -- several tokens at once, for rotation ---------------------------------------------------------

def test_every_ingest_token_of_a_rotation_is_accepted(settings, store):
    client, _ = build(settings, store, ingest_token=f"{INGEST_A}, {INGEST_B}")
    assert rest_post(client, INGEST_A, "r1").status_code == 201
    assert rest_post(client, INGEST_B, "r2").status_code == 201
    assert webhook(client, token=INGEST_B).status_code == 201
    before = store.list_responses(limit=50)
    refused = rest_post(client, f"{INGEST_A},{INGEST_B}", "r3")
    assert refused.status_code == 401
    assert refused.json["problems"] == [{"path": "authorization",
                                         "message": "token is not valid"}]
    assert store.list_responses(limit=50) == before and len(before) == 3


def test_every_admin_token_of_a_rotation_is_accepted(settings):
    client, _ = build(settings, ingest_token=INGEST_A, admin_token=f"{ADMIN_A},{ADMIN_B}")
    for token in (ADMIN_A, ADMIN_B):
        reply = client.get("/api/v1/responses", headers={"Authorization": f"Bearer {token}"})
        assert reply.status_code == 200, reply.json
    reply = client.get("/api/v1/responses", headers={"Authorization": f"Bearer {INGEST_A}"})
    assert reply.status_code == 401


# -- per-vendor webhook tokens --------------------------------------------------------------------

def test_a_vendor_token_opens_only_its_own_url(settings, store):
    client, _ = build(settings, store, ingest_token=INGEST_A,
                      delighted_token=f"{VENDOR_A},{VENDOR_B}")
    assert webhook(client, token=VENDOR_A).status_code == 201
    assert webhook(client, token=VENDOR_B).status_code == 200  # rotation: both valid
    assert webhook(client, "asknicely", token=INGEST_A).status_code == 201
    before = store.list_responses(limit=50)
    # Once the vendor has its own token, the ingest token no longer opens its URL...
    refused = webhook(client, token=INGEST_A, addr="10.0.0.2")
    assert refused.status_code == 401
    assert refused.json["problems"] == [{"path": "token", "message": "is not valid"}]
    # ...and its token opens no other URL, nor the REST API.
    assert webhook(client, "asknicely", token=VENDOR_A, addr="10.0.0.3").status_code == 401
    assert rest_post(client, VENDOR_A, addr="10.0.0.4").status_code == 401
    assert store.list_responses(limit=50) == before and len(before) == 2


def test_a_missing_token_names_the_vendor_setting(settings):
    client, _ = build(settings, ingest_token=INGEST_A, delighted_token=VENDOR_A)
    refused = webhook(client)
    assert refused.status_code == 401
    assert "?token=<NPS_TV_DELIGHTED_TOKEN>" in refused.json["problems"][0]["message"]


def test_a_vendor_token_alone_enables_only_its_webhook(settings):
    client, store = build(settings, delighted_token=VENDOR_A)
    assert webhook(client, token=VENDOR_A).status_code == 201
    disabled = webhook(client, "asknicely", token=VENDOR_A)
    assert disabled.status_code == 403
    assert "NPS_TV_ASKNICELY_TOKEN" in disabled.json["problems"][0]["message"]
    assert rest_post(client, VENDOR_A).status_code == 403
    assert store.count_responses() == 1


# -- failed attempts: logged without the token, slowed per client ---------------------------------

def test_repeated_failures_from_one_address_get_429_without_checking(settings, store, caplog):
    client, _ = build(settings, store, ingest_token=INGEST_A)
    caplog.set_level(logging.WARNING, logger="nps_tv.auth")
    for _ in range(5):
        assert webhook(client, token=WRONG).status_code == 401
    slowed = webhook(client, token=INGEST_A)  # even the right token waits
    assert slowed.status_code == 429
    assert 1 <= int(slowed.headers["Retry-After"]) <= 60
    assert slowed.json["problems"][0]["path"] == "token"
    assert "too many failed attempts" in slowed.json["detail"]
    assert store.count_responses() == 0
    assert webhook(client, token=INGEST_A, addr="10.0.0.9").status_code == 201  # others go on
    lines = [r.getMessage() for r in caplog.records if r.name == "nps_tv.auth"]
    assert len(lines) == 5
    assert all("POST /api/v1/webhooks/delighted from '10.0.0.1'" in line for line in lines)
    assert all(WRONG not in line and INGEST_A not in line and "?" not in line
               for line in lines)


def test_bearer_and_signature_failures_count_too(settings):
    client, store = build(settings, ingest_token=INGEST_A, admin_token=ADMIN_A,
                          delighted_secret="delighted-api-key-0123")
    for _ in range(3):
        assert rest_post(client, WRONG).status_code == 401
    unsigned = {"X-Delighted-Webhook-Signature": "sha256=00"}
    for _ in range(2):
        assert webhook(client, headers=unsigned).status_code == 401
    assert rest_post(client, INGEST_A).status_code == 429
    reply = client.get("/api/v1/responses", headers={"Authorization": f"Bearer {ADMIN_A}"},
                       environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert reply.status_code == 429 and "Retry-After" in reply.headers
    assert store.count_responses() == 0


def test_a_request_without_credentials_is_refused_but_not_counted(settings):
    client, store = build(settings, ingest_token=INGEST_A, admin_token=ADMIN_A)
    for _ in range(8):  # e.g. colleagues behind one NAT opening an API URL in a browser
        bare = client.get("/api/v1/responses", environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert bare.status_code == 401
        assert bare.json["problems"][0]["path"] == "authorization"
    assert rest_post(client, INGEST_A).status_code == 201  # the admin is not throttled
    for _ in range(5):  # a malformed header is a guess, and counts
        reply = client.get("/api/v1/responses", headers={"Authorization": "Basic Zm9vOmJhcg=="},
                           environ_base={"REMOTE_ADDR": "10.0.0.1"})
        assert reply.status_code == 401
    assert rest_post(client, INGEST_A, external_id="r2").status_code == 429
    assert store.count_responses() == 1


def test_behind_proxies_the_client_is_taken_from_x_forwarded_for(settings):
    client, store = build(settings, ingest_token=INGEST_A, proxy_hops=1)

    def via_proxy(token, client_ip):
        return client.post(f"/api/v1/webhooks/delighted?token={token}", json=DELIGHTED,
                           headers={"X-Forwarded-For": f"198.51.100.1, {client_ip}"},
                           environ_base={"REMOTE_ADDR": "127.0.0.1"})

    for _ in range(5):
        assert via_proxy(WRONG, "203.0.113.7").status_code == 401
    assert via_proxy(INGEST_A, "203.0.113.7").status_code == 429
    assert via_proxy(INGEST_A, "203.0.113.8").status_code == 201  # the proxy is not blamed


def test_without_proxy_hops_x_forwarded_for_cannot_dodge_the_limit(settings):
    client, store = build(settings, ingest_token=INGEST_A)
    for n in range(6):
        reply = client.post(f"/api/v1/webhooks/delighted?token={WRONG}", json=DELIGHTED,
                            headers={"X-Forwarded-For": f"203.0.113.{n}"},
                            environ_base={"REMOTE_ADDR": "10.0.0.1"})
    assert reply.status_code == 429
    assert store.count_responses() == 0


def test_failed_attempts_expire_after_the_window():
    now = [1000.0]
    attempts = FailedAttempts(limit=3, window=60.0, clock=lambda: now[0])
    for _ in range(3):
        assert attempts.retry_after("a") == 0
        attempts.record("a")
        now[0] += 10
    assert attempts.retry_after("a") == 30  # at 1030; the first failure leaves it at 1060
    now[0] = 1060.0
    assert attempts.retry_after("a") == 0
    assert attempts.retry_after("b") == 0


def test_failed_attempts_remember_a_bounded_number_of_clients():
    attempts = FailedAttempts(limit=1, max_clients=100)
    for n in range(1000):
        attempts.record(f"10.0.{n // 256}.{n % 256}")
    assert len(attempts._failures) == 100
    assert attempts.retry_after("10.0.3.231") > 0  # the most recent are kept
    assert attempts.retry_after("10.0.0.0") == 0


@pytest.mark.parametrize("header, hops, expected", [
    ("", 0, "10.0.0.1"),
    ("203.0.113.7", 0, "10.0.0.1"),
    ("203.0.113.7", 1, "203.0.113.7"),
    ("198.51.100.1, 203.0.113.7", 1, "203.0.113.7"),
    ("198.51.100.1, 203.0.113.7", 2, "198.51.100.1"),
    ("203.0.113.7", 2, "10.0.0.1"),  # fewer hops than configured: not trusted
])
def test_client_address_follows_proxy_hops(header, hops, expected):
    headers = {"X-Forwarded-For": header} if header else {}
    assert client_address("10.0.0.1", headers, hops) == expected


def test_token_valid_matches_any_configured_token_and_nothing_else():
    configured = f"{INGEST_A}, {INGEST_B}"
    assert token_valid(INGEST_A, configured) and token_valid(INGEST_B, configured)
    assert not token_valid("", configured)
    assert not token_valid(configured, configured)
    assert not token_valid(INGEST_A, "")
