"""The admin API for share links and screens: admin token only, field-named refusals that
change nothing, the token returned once, revocation seen by the gate at once."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app.access import COOKIE
from app.services import get_services
from app.web import create_app

ADMIN = "admin-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {ADMIN}"}


@pytest.fixture
def share_api_app(settings, store):
    return create_app(settings.replace(admin_token=ADMIN, access="links"), store=store)


@pytest.fixture
def links_client(share_api_app):
    return share_api_app.server.test_client()


def stored(share_api_app) -> list[tuple]:
    with get_services(share_api_app).store.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM share_links ORDER BY id"))]


def test_create_list_revoke_round_trip(share_api_app, links_client):
    reply = links_client.post("/api/v1/share-links", headers=AUTH, json={
        "name": "Lobby TV", "screen": "panels=score,trend&dwell=20&window=90d&product=Ledger",
        "expires": "90d", "comments": "hide"})
    assert reply.status_code == 201
    body = reply.get_json()
    token = body["token"]
    assert body["url"] == f"http://localhost/s/{token}"
    assert body["role"] == "wall" and body["comments"] == "hide" and body["state"] == "active"
    assert reply.headers["Cache-Control"] == "no-store"
    listed = links_client.get("/api/v1/share-links", headers=AUTH).get_json()["share_links"]
    assert [link["name"] for link in listed] == ["Lobby TV"]
    assert token not in str(listed) and "token_hash" not in listed[0]
    links_client.set_cookie(COOKIE, token)
    assert links_client.get("/tv").status_code == 200
    revoked = links_client.delete(f"/api/v1/share-links/{body['id']}", headers=AUTH)
    assert revoked.status_code == 200 and revoked.get_json()["state"] == "revoked"
    refused = links_client.get("/tv")  # this worker sees the revocation at once
    assert refused.status_code == 403 and refused.headers["X-NPS-TV-Link"] == "revoked"
    assert links_client.delete("/api/v1/share-links/999", headers=AUTH).status_code == 404


@pytest.mark.parametrize("payload, path, message", [
    ({"name": "", "role": "wall"}, "name", "must not be empty"),
    ({"name": "A", "role": "boss"}, "role", "must be wall or manager"),
    ({"name": "A", "expires": "0d"}, "expires", "must be at least 1d"),
    ({"name": "A", "expires": 5}, "expires", "must be a duration like 90d or 12h"),
    ({"name": "A", "screen": "panels=pie"}, "screen.panels", "unknown panel 'pie'"),
    ({"name": "A", "screen": "window=abc"}, "screen.window", "must be like 30d"),
    ({"name": "A", "comments": "no"}, "comments", "must be show or hide"),
    ({"name": "A", "colour": "red"}, "colour", "unknown field"),
])
def test_bad_fields_are_named_and_nothing_is_stored(share_api_app, links_client, payload, path,
                                                     message):
    reply = links_client.post("/api/v1/share-links", headers=AUTH, json=payload)
    assert reply.status_code == 400
    problems = reply.get_json()["problems"]
    assert any(p["path"] == path and message in p["message"] for p in problems), problems
    assert stored(share_api_app) == []


def test_a_taken_name_is_409(share_api_app, links_client):
    links_client.post("/api/v1/share-links", headers=AUTH, json={"name": "Lobby TV"})
    before = stored(share_api_app)
    reply = links_client.post("/api/v1/share-links", headers=AUTH, json={"name": "Lobby TV"})
    assert reply.status_code == 409 and reply.get_json()["problems"][0]["path"] == "name"
    assert stored(share_api_app) == before


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/share-links"), ("GET", "/api/v1/share-links"),
    ("DELETE", "/api/v1/share-links/1"), ("POST", "/api/v1/screens/reload"),
    ("GET", "/api/v1/screens")])
def test_every_route_needs_the_admin_token(share_api_app, links_client, method, path):
    assert links_client.open(path, method=method, json={"name": "x"}).status_code == 401
    wrong = links_client.open(path, method=method, json={"name": "x"},
                        headers={"Authorization": "Bearer not-the-admin-token"})
    assert wrong.status_code == 401
    assert stored(share_api_app) == []


def test_reload_one_link_or_every_screen(share_api_app, links_client):
    link = links_client.post("/api/v1/share-links", headers=AUTH, json={"name": "Lobby"}).get_json()
    other = links_client.post("/api/v1/share-links", headers=AUTH, json={"name": "Hall"}).get_json()
    book = get_services(share_api_app).links
    one = links_client.post("/api/v1/screens/reload", headers=AUTH, json={"link_id": link["id"]})
    assert one.status_code == 200
    assert book.reload_requested_at(link["id"]).isoformat() == one.get_json()[
        "reload_requested_at"]
    assert book.reload_requested_at(other["id"]) is None
    every = links_client.post("/api/v1/screens/reload", headers=AUTH)
    assert every.status_code == 200 and every.get_json()["link_id"] is None
    stamp = book.reload_requested_at(other["id"])
    assert stamp is not None and stamp.isoformat() == every.get_json()["reload_requested_at"]
    missing = links_client.post("/api/v1/screens/reload", headers=AUTH, json={"link_id": 999})
    assert missing.status_code == 404
    bad = links_client.post("/api/v1/screens/reload", headers=AUTH, json={"link_id": "all"})
    assert bad.status_code == 400 and bad.get_json()["problems"][0]["path"] == "link_id"


def test_screens_lists_last_seen_and_flags_silent_ones(share_api_app, links_client):
    link = links_client.post("/api/v1/share-links", headers=AUTH, json={"name": "Lobby"}).get_json()
    book = get_services(share_api_app).links
    book.touch(link["id"], user_agent="Mozilla/5.0 Chrome/131", build="b7", trouble="stale")
    book.flush(force=True)
    [screen] = links_client.get("/api/v1/screens", headers=AUTH).get_json()["screens"]
    assert screen["last_build"] == "b7" and screen["last_trouble"] == "stale"
    assert screen["silent"] is False and screen["silent_seconds"] < 5
