"""The gate (app/access.py): in links mode every data path needs a valid share link or the
admin token, refusals say why; open mode changes nothing; /s/<token> sets the cookie and sends
the browser on; the API applies a link's scope. Run on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from app.access import COOKIE, access_mode, is_gated, open_mode_warning
from app.config import Settings
from app.services import get_services
from app.store import StoreUnavailable
from app.web import create_app
from tests.conftest import ADMIN_TOKEN, INGEST_TOKEN, seeded_app, wall_poll_body

ADMIN, INGEST = ADMIN_TOKEN, INGEST_TOKEN
DATA_PATHS = [("GET", "/"), ("GET", "/tv"), ("GET", "/some/dash/page"),
              ("GET", "/_dash-layout"), ("GET", "/_dash-dependencies"),
              ("POST", "/_dash-update-component"), ("GET", "/api/v1/summary"),
              ("GET", "/api/v1/responses")]


@pytest.fixture
def open_app(make_app, store):
    return seeded_app(make_app, store, access="open")


def make_link(dash_app, name="Lobby TV", role="wall", screen="", comments="show", **kw):
    links = get_services(dash_app).links
    row, token = links.links.create(name, role, screen, comments, **kw)
    links.refresh(force=True)
    return row, token


def send(client, method, path, **kw):
    if path == "/_dash-update-component":
        kw.setdefault("json", wall_poll_body({"query": {}}, None))
    return client.open(path, method=method, **kw)


def test_default_mode_is_open_on_loopback_and_links_elsewhere():
    assert access_mode(Settings(host="127.0.0.1")) == "open"
    assert access_mode(Settings(host="::1")) == "open"
    assert access_mode(Settings(host="localhost")) == "open"
    assert access_mode(Settings(host="0.0.0.0")) == "links"
    assert access_mode(Settings(host="192.168.1.20")) == "links"
    assert access_mode(Settings(host="0.0.0.0", access="open")) == "open"
    # Behind a reverse proxy, loopback is reachable by whoever reaches the proxy.
    assert access_mode(Settings(host="127.0.0.1", proxy_hops=1)) == "links"
    assert "behind 1 reverse prox" in open_mode_warning(
        Settings(host="127.0.0.1", proxy_hops=1, access="open"))
    with pytest.raises(ValueError, match="NPS_TV_ACCESS: must be open or links, got 'closed'"):
        access_mode(Settings(access="closed"))


def test_open_on_a_network_address_warns_at_start_and_on_health(settings, sqlite_store,
                                                                caplog):
    assert open_mode_warning(Settings(host="127.0.0.1")) is None
    assert open_mode_warning(Settings(host="0.0.0.0", access="links")) is None
    with caplog.at_level("WARNING"):
        dash_app = create_app(settings.replace(host="0.0.0.0", access="open"),
                              store=sqlite_store)
    assert any("NPS_TV_ACCESS=open while listening on 0.0.0.0" in r.getMessage()
               for r in caplog.records)
    body = dash_app.server.test_client().get("/health").get_json()
    assert body["access"] == "open"
    assert any("NPS_TV_ACCESS=open" in w for w in body["warnings"])


def test_health_shows_links_mode(links_app):
    body = links_app.server.test_client().get("/health").get_json()
    assert body["access"] == "links"


@pytest.mark.parametrize("method, path", DATA_PATHS)
def test_links_mode_refuses_every_data_path_without_a_link(links_app, method, path):
    response = send(links_app.server.test_client(), method, path)
    assert response.status_code == 401
    assert response.headers["X-NPS-TV-Link"] == "missing"
    assert "No access: open a share link" in response.get_data(as_text=True)
    if path.startswith(("/api/", "/_dash-")):
        assert response.get_json()["error"] == "No access: open a share link"
    else:
        assert response.mimetype == "text/html"
    assert "secret words" not in response.get_data(as_text=True)


@pytest.mark.parametrize("method, path", DATA_PATHS)
def test_links_mode_refuses_revoked_expired_and_forged_cookies(links_app, method, path):
    client = links_app.server.test_client()
    revoked_row, revoked = make_link(links_app, "gone")
    get_services(links_app).links.links.revoke(revoked_row.id)
    _, expired = make_link(links_app, "old", expires_at=datetime.now(UTC) - timedelta(hours=1))
    get_services(links_app).links.refresh(force=True)
    for token, reason, message in ((revoked, "revoked", "This link was revoked"),
                                   (expired, "expired", "This link expired"),
                                   ("forged" + "x" * 40, "unknown", "This link is not valid")):
        client.set_cookie(COOKIE, token)
        response = send(client, method, path)
        assert response.status_code == 403, (token, path)
        assert response.headers["X-NPS-TV-Link"] == reason
        assert message in response.get_data(as_text=True)


@pytest.mark.parametrize("method, path", DATA_PATHS)
def test_a_valid_link_or_the_admin_token_passes(links_app, method, path):
    client = links_app.server.test_client()
    response = send(client, method, path, headers={"Authorization": f"Bearer {ADMIN}"})
    assert response.status_code == 200
    _, token = make_link(links_app, "Remote team", role="manager")
    client.set_cookie(COOKIE, token)
    assert send(client, method, path).status_code == 200


def test_a_wrong_admin_token_is_refused_and_slowed(links_app):
    client = links_app.server.test_client()
    codes = [client.get("/api/v1/summary", headers={"Authorization": "Bearer wrong-token"}
                        ).status_code for _ in range(7)]
    assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]


def test_a_proxys_basic_auth_header_is_not_taken_for_a_wrong_token(links_app):
    """nginx's basic auth in front passes its Authorization header on: it was refused as a
    wrong admin token and counted, so a link holder behind it was locked out (429)."""
    client = links_app.server.test_client()
    _, good = make_link(links_app)
    client.set_cookie(COOKIE, good)
    basic = {"Authorization": "Basic d2FsbDp3YWxs"}
    codes = [client.get("/_dash-layout", headers=basic).status_code for _ in range(7)]
    assert codes == [200] * 7
    anonymous = links_app.server.test_client()
    assert anonymous.get("/_dash-layout", headers=basic).status_code == 401  # still gated


def test_forged_cookies_are_slowed_per_client_but_good_links_are_not(links_app):
    client = links_app.server.test_client()
    _, good = make_link(links_app)
    codes = []
    for i in range(7):
        client.set_cookie(COOKIE, f"forged-{i}-" + "x" * 40)
        codes.append(client.get("/_dash-layout").status_code)
    assert codes[:5] == [403] * 5 and codes[5:] == [429, 429]
    client.set_cookie(COOKIE, good)
    assert client.get("/_dash-layout").status_code == 200


def test_a_dash_body_is_checked_only_for_those_the_gate_lets_in(links_app):
    """Without credentials a malformed update is refused by the gate (401), not answered with
    the guard's description of the callback it should have named."""
    client = links_app.server.test_client()
    reply = client.post("/_dash-update-component", json={"output": "x", "inputs": []})
    assert reply.status_code == 401
    assert "callback" not in reply.get_data(as_text=True)
    admin = client.post("/_dash-update-component", json={"output": "x", "inputs": []},
                        headers={"Authorization": f"Bearer {ADMIN}"})
    assert admin.status_code == 400 and "names no server-side callback" in admin.get_data(
        as_text=True)


def test_a_forwarded_request_to_a_server_open_only_on_loopback_is_refused(make_app, caplog):
    """Open by default on loopback with no proxy declared, a server an nginx forwards to (its
    NPS_TV_PROXY_HOPS forgotten) showed every comment to everyone the proxy serves."""
    dash_app = make_app(host="127.0.0.1", proxy_hops=0, access="")
    client = dash_app.server.test_client()
    assert client.get("/api/v1/summary").status_code == 200  # from this machine
    forwarded = {"X-Forwarded-For": "203.0.113.9"}
    refused = client.get("/api/v1/summary", headers=forwarded)
    assert refused.status_code == 403 and "NPS_TV_PROXY_HOPS" in refused.get_json()["error"]
    assert client.get("/tv", headers={"Forwarded": "for=203.0.113.9"}).status_code == 403
    assert client.get("/health", headers=forwarded).status_code == 200  # ungated: as before
    assert any("NPS_TV_PROXY_HOPS" in r.getMessage() for r in caplog.records)
    said_open = make_app(host="127.0.0.1", proxy_hops=0, access="open").server.test_client()
    assert said_open.get("/api/v1/summary", headers=forwarded).status_code == 200


def test_gated_answers_are_not_kept_by_caches(links_app):
    client = links_app.server.test_client()
    bearer = {"Authorization": f"Bearer {ADMIN}"}
    for path in ("/api/v1/responses", "/api/v1/summary", "/api/v1/compare?field=product",
                 "/_dash-layout", "/tv"):
        reply = client.get(path, headers=bearer)
        assert reply.status_code == 200, path
        assert reply.headers["Cache-Control"] == "private, no-store", path
    assert "no-store" not in client.get("/assets/nps_tv.css").headers.get("Cache-Control", "")


def test_static_health_ingest_and_webhooks_are_not_gated(links_app):
    client = links_app.server.test_client()
    assert client.get("/health").status_code == 200
    assert client.get("/assets/nps_tv.css").status_code == 200
    assert not is_gated("POST", "/api/v1/responses")
    assert is_gated("GET", "/api/v1/responses")
    reply = client.post("/api/v1/responses", json={"score": 9},
                        headers={"Authorization": f"Bearer {INGEST}"})
    assert reply.status_code == 201
    hook = client.post(f"/api/v1/webhooks/delighted?token={INGEST}", json={})
    assert hook.status_code not in (401, 403) or "link" not in (hook.get_json() or {})


def test_share_link_door_sets_the_cookie_and_redirects(links_app):
    client = links_app.server.test_client()
    _, wall = make_link(links_app, "Lobby TV", role="wall", expires_at=datetime.now(UTC)
                        + timedelta(days=2))
    _, manager = make_link(links_app, "Remote", role="manager")
    response = client.get(f"/s/{wall}")
    assert response.status_code == 303 and response.headers["Location"].endswith("/tv")
    cookie = response.headers["Set-Cookie"]
    assert f"{COOKIE}={wall}" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie and "Path=/" in cookie
    max_age = int(cookie.split("Max-Age=")[1].split(";")[0])
    # The link's two days and one more, so an open screen is told that its link expired.
    assert 2 * 86400 < max_age <= 3 * 86400
    assert response.headers["Cache-Control"] == "no-store"
    assert client.get("/tv").status_code == 200  # the cookie now opens the wall
    assert client.get("/").status_code == 303  # a wall link opens the wall only
    secure = client.get(f"/s/{manager}", base_url="https://localhost")
    assert secure.headers["Location"].endswith("/") and "Secure" in secure.headers["Set-Cookie"]
    _, pinned = make_link(links_app, "Kitchen", screen="panels=trend&window=90d&product=Ledger")
    assert client.get(f"/s/{pinned}").headers["Location"] == (
        "/tv?panels=trend&window=90d&product=Ledger")


@pytest.mark.parametrize("state, message", [("revoked", "This link was revoked"),
                                            ("expired", "This link expired"),
                                            ("unknown", "This link is not valid")])
def test_share_link_door_refuses_with_a_page_that_says_why(links_app, state, message):
    row, token = make_link(links_app, expires_at=datetime.now(UTC) - timedelta(seconds=1)
                           if state == "expired" else None)
    if state == "revoked":
        get_services(links_app).links.links.revoke(row.id)
        get_services(links_app).links.refresh(force=True)
    response = links_app.server.test_client().get(
        f"/s/{token if state != 'unknown' else 'nope' + 'x' * 40}")
    assert response.status_code == 403 and response.mimetype == "text/html"
    assert message in response.get_data(as_text=True)
    assert response.headers["X-NPS-TV-Link"] == state
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize("method, path", DATA_PATHS)
def test_open_mode_changes_nothing(open_app, method, path):
    client = open_app.server.test_client()
    response = send(client, method, path)
    expected = 401 if path == "/api/v1/responses" else 200  # admin-only, as before
    assert response.status_code == expected
    client.set_cookie(COOKIE, "forged" + "x" * 40)
    assert send(client, method, path).status_code == expected


def test_summary_applies_a_wall_links_pinned_scope(links_app):
    client = links_app.server.test_client()
    _, token = make_link(links_app, screen="window=7d&product=Ledger")
    client.set_cookie(COOKIE, token)
    body = client.get("/api/v1/summary?window=all").get_json()
    assert body["window"]["segments"] == {"product": ["Ledger"]}
    assert body["window"]["label"] == "last 7 days"  # the pinned window, not the asked one
    # The rest (Pulse) is outside the link's scope: not even its sum is compared with.
    assert body["versus_rest"] is None
    wider = client.get("/api/v1/summary?product=Pulse")
    assert wider.status_code == 403
    assert "'Pulse' is outside this link's scope" in wider.get_json()["detail"]
    admin = client.get("/api/v1/summary?window=all&product=Pulse",
                       headers={"Authorization": f"Bearer {ADMIN}"}).get_json()
    assert admin["window"]["segments"] == {"product": ["Pulse"]}
    # The admin may see the rest: Ledger within Pulse's span ("all" spans the filtered data),
    # 18 of its 20 (the two on the 19th day back are older than any Pulse answer).
    assert admin["versus_rest"]["rest"]["n"] == 18


def test_a_manager_link_may_filter_within_its_scope_only(links_app):
    client = links_app.server.test_client()
    _, token = make_link(links_app, role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, token)
    body = client.get("/api/v1/summary?window=all&region=EMEA").get_json()
    assert body["window"]["label"] == "all time"
    assert body["window"]["segments"] == {"product": ["Ledger"], "region": ["EMEA"]}
    assert body["versus_rest"] is None
    assert client.get("/api/v1/summary?product=Ledger,Pulse").status_code == 403


def test_responses_under_a_link_keep_its_segments_and_hide_comments(links_app):
    client = links_app.server.test_client()
    _, token = make_link(links_app, role="manager", screen="product=Ledger", comments="hide")
    client.set_cookie(COOKIE, token)
    rows = client.get("/api/v1/responses?limit=500").get_json()["responses"]
    assert rows and {r["segments"]["product"] for r in rows} == {"Ledger"}
    assert all(r["comment"] is None for r in rows)
    assert client.get("/api/v1/responses?product=Pulse").status_code == 403
    _, shown = make_link(links_app, "with comments", role="manager", screen="product=Ledger")
    client.set_cookie(COOKIE, shown)
    rows = client.get("/api/v1/responses").get_json()["responses"]
    assert all(r["comment"].startswith("secret words") for r in rows)


def test_a_link_is_touched_in_memory_not_written_per_request(links_app, monkeypatch):
    client = links_app.server.test_client()
    row, token = make_link(links_app)
    book = get_services(links_app).links
    writes = []
    monkeypatch.setattr(book.links, "write_touches", lambda t: writes.append(list(t)) or 1)
    client.set_cookie(COOKIE, token)
    for _ in range(20):
        client.get("/_dash-layout", headers={"User-Agent": "Mozilla/5.0 Chrome/131.0"})
    assert writes == []
    assert book.flush() == 1
    assert writes[0][0]["id"] == row.id
    assert writes[0][0]["last_user_agent"] == "Mozilla/5.0 Chrome/131.0"


def test_an_admin_signs_in_in_a_browser_and_sees_everything(links_app):
    from app.admin_session import ADMIN_COOKIE
    from app.scopes import is_admin_request

    client = links_app.server.test_client()
    assert "Admin token" in client.get("/admin").get_data(as_text=True)
    wrong = client.post("/admin", data={"token": "not-the-admin-token"})
    assert wrong.status_code == 401 and "That is not the admin token" in wrong.get_data(
        as_text=True)
    assert "Set-Cookie" not in wrong.headers
    signed = client.post("/admin", data={"token": ADMIN})
    assert signed.status_code == 303 and signed.headers["Location"].endswith("/")
    cookie = signed.headers["Set-Cookie"]
    assert cookie.startswith(f"{ADMIN_COOKIE}=") and ADMIN not in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    for path in ("/", "/tv", "/_dash-layout", "/api/v1/summary?product=Pulse"):
        assert client.get(path).status_code == 200, path
    rows = client.get("/api/v1/responses").get_json()["responses"]
    assert {r["segments"]["product"] for r in rows} == {"Ledger", "Pulse"}
    with links_app.server.test_request_context("/tv", headers={
            "Cookie": cookie.split(";")[0]}):
        links_app.server.preprocess_request()
        assert is_admin_request()
    client.post("/admin/logout")
    assert client.get("/tv").status_code == 401
    # The cookie a sign-out cleared is over on the server too: it was one fixed value that
    # stayed valid for as long as the token did, whatever its Max-Age said.
    replayed = links_app.server.test_client()
    replayed.set_cookie(ADMIN_COOKIE, cookie.split(";")[0].split("=", 1)[1])
    assert replayed.get("/tv").status_code == 401


def test_a_forged_admin_cookie_is_not_admin(links_app):
    from app.admin_session import ADMIN_COOKIE, session_value

    now_ms = int(time.time() * 1000)
    client = links_app.server.test_client()
    client.set_cookie(ADMIN_COOKIE, session_value("some-other-token-0123456789", now_ms))
    assert client.get("/tv").status_code == 401
    client.set_cookie(ADMIN_COOKIE, ADMIN)  # the token itself is not the session either
    assert client.get("/tv").status_code == 401
    client.set_cookie(ADMIN_COOKIE, session_value(ADMIN, now_ms))
    assert client.get("/tv").status_code == 200  # (the right token's, to show the check bites)


def test_only_an_admin_ends_the_admin_sessions(links_app, monkeypatch):
    """/admin/logout is open to anyone (to clear their own cookie): an anonymous POST, or one
    from another site (the Strict cookie is not sent), wrote the stamp and signed every admin
    out everywhere."""
    from app.admin_session import ADMIN_COOKIE

    admin = links_app.server.test_client()
    admin.post("/admin", data={"token": ADMIN})
    assert admin.get("/tv").status_code == 200
    stranger = links_app.server.test_client()
    assert stranger.post("/admin/logout").status_code == 303
    stranger.set_cookie(ADMIN_COOKIE, "1.forged")
    assert stranger.post("/admin/logout").status_code == 303
    get_services(links_app).links.refresh(force=True)
    assert admin.get("/tv").status_code == 200  # still signed in
    book = get_services(links_app).links

    def down(now=None):
        raise StoreUnavailable("OperationalError", "database is locked")

    monkeypatch.setattr(book, "end_admin_sessions", down)
    failed = admin.post("/admin/logout")
    assert failed.status_code == 503 and "could not be ended" in failed.get_data(as_text=True)
    assert admin.get("/tv").status_code == 401  # this browser is signed out all the same


def test_a_sign_in_after_a_sign_out_counts_whatever_this_clock_says(links_app):
    """Another instance's clock ran ahead when it signed out: a sign-in here within the skew
    made a session 'issued before' the sign-out, refused on the next page."""
    from datetime import timedelta as span

    book = get_services(links_app).links
    book.end_admin_sessions(datetime.now(UTC) + span(seconds=30))
    browser = links_app.server.test_client()
    browser.post("/admin", data={"token": ADMIN})
    assert browser.get("/tv").status_code == 200


@pytest.mark.parametrize(("issued_hours_ago", "status"), [(11.9, 200), (12.1, 401),
                                                          (-0.1, 401)])
def test_an_admin_session_ends_after_twelve_hours_on_the_server(links_app, issued_hours_ago,
                                                                 status):
    from app.admin_session import ADMIN_COOKIE, session_value

    client = links_app.server.test_client()
    issued = int((time.time() - issued_hours_ago * 3600) * 1000)
    client.set_cookie(ADMIN_COOKIE, session_value(ADMIN, issued))
    assert client.get("/tv").status_code == status


def test_a_sign_out_ends_the_admin_sessions_of_every_worker(make_app, store):
    """Two apps on one store (two workers, or two instances): a sign-out in one ends the
    session in the other within the share links' refresh, and a later sign-in works."""
    from app.admin_session import ADMIN_COOKIE

    first = seeded_app(make_app, store, access="links")
    second = make_app(store=store, access="links")
    browser = first.server.test_client()
    browser.post("/admin", data={"token": ADMIN})
    value = browser.get_cookie(ADMIN_COOKIE).value
    elsewhere = second.server.test_client()
    elsewhere.set_cookie(ADMIN_COOKIE, value)
    assert elsewhere.get("/tv").status_code == 200
    browser.post("/admin/logout")
    get_services(second).links.refresh(force=True)  # what its refresh does within 3 s
    assert elsewhere.get("/tv").status_code == 401
    again = second.server.test_client()
    again.post("/admin", data={"token": ADMIN})
    assert again.get("/tv").status_code == 200


def test_screen_query_for_pins_wall_links_and_clamps_manager_links():
    from app.scopes import scope_of, screen_query_for
    from app.store.links import ShareLinkRow

    def link(role, screen):
        now = datetime.now(UTC)
        return ShareLinkRow(1, "x", "0" * 64, role, screen, "show", now, None, None, None,
                            None, None, None, None)

    fields = ("product", "region")
    asked = {"panels": "score", "product": "Pulse,Ledger", "window": "all"}
    assert screen_query_for(asked, None, fields) == (asked, ())
    wall = scope_of(link("wall", "panels=trend&dwell=20&window=90d&product=Ledger"))
    assert screen_query_for(asked, wall, fields) == (
        {"panels": "trend", "dwell": "20", "window": "90d", "product": "Ledger"}, ())
    manager = scope_of(link("manager", "product=Ledger"))
    query, notices = screen_query_for(asked, manager, fields)
    assert query == {"panels": "score", "product": "Ledger", "window": "all"}
    assert notices == ("product: this link shows only Ledger",)
    query, _ = screen_query_for({"product": "Pulse"}, manager, fields)
    assert query["product"] == "Ledger"  # never widened, never empty
    assert screen_query_for({}, manager, fields)[0] == {"product": "Ledger"}
