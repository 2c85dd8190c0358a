"""Share links on the pages: a wall link's screen is pinned, a manager link cannot widen its
segments, a link without comments never sends a comment (page, poll or gong), and a screen
reports itself and learns that it should reload. Through the real gate, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import g

from app import manager
from app.services import get_services
from app.web import create_app
from tests.conftest import ADMIN_TOKEN, INGEST_TOKEN, make_record, wall_poll_body

SECRET = "secret words"


@pytest.fixture
def links_app(settings, store):
    dash_app = create_app(settings.replace(admin_token=ADMIN_TOKEN, ingest_token=INGEST_TOKEN,
                                           access="links"), store=store)
    now = datetime.now(UTC)
    store.upsert_responses([
        make_record(i, 10 if i % 3 else 2, when=now - timedelta(days=i % 20, hours=2),
                    comment=f"{SECRET} {i}", product="Ledger" if i % 2 else "Pulse",
                    region="EMEA") for i in range(40)])
    get_services(dash_app).poller.poll()
    return dash_app


def open_link(dash_app, role="wall", screen="", comments="show"):
    """A test client holding a fresh link's cookie, and the link's row."""
    book = get_services(dash_app).links
    row, token = book.links.create(f"{role} link", role, screen, comments)
    book.refresh(force=True)
    client = dash_app.server.test_client()
    assert client.get(f"/s/{token}").status_code == 303
    return client, row


def route_body(pathname: str, search: str) -> dict:
    """What the page shell sends to render a page (the router's callback)."""
    return {"output": "page-content.children",
            "outputs": {"id": "page-content", "property": "children"},
            "inputs": [{"id": "page-url", "property": "pathname", "value": pathname}],
            "state": [{"id": "page-url", "property": "search", "value": search}],
            "changedPropIds": ["page-url.pathname"]}


def poll(client, query: dict, state=None) -> dict:
    reply = client.post("/_dash-update-component", json=wall_poll_body({"query": query}, state))
    assert reply.status_code == 200, reply.get_data(as_text=True)
    return reply.get_json()["response"]


def test_a_wall_link_shows_its_pinned_screen_whatever_the_browser_asks(links_app):
    client, _ = open_link(links_app, screen="panels=score,trend&window=90d&product=Ledger")
    sent = poll(client, {"panels": "comments", "window": "all"})  # ignored: the link's screen
    assert sent["tv-state"]["data"]["key"] == "dark?window=90d&product=Ledger"
    assert "tv-score-body" in sent and "tv-comments-body" not in sent
    # Asking for other segment values (an edited address) is refused, naming the field.
    for path, body in (("poll", wall_poll_body({"query": {"product": "Pulse"}}, None)),
                       ("page", route_body("/tv", "?product=Ledger,Pulse"))):
        refused = client.post("/_dash-update-component", json=body)
        assert refused.status_code == 403, path
        assert refused.headers["X-NPS-TV-Link"] == "scope"
        assert "'Pulse' is outside this link's scope" in refused.get_json()["detail"]
    page = client.post("/_dash-update-component",
                       json=route_body("/tv", "?panels=comments&product=Ledger"))
    flat = page.get_data(as_text=True)
    assert '"panels":["score","trend"]' in flat and "Last 90 days · Ledger" in flat


def test_a_link_without_comments_never_sends_a_comment(links_app):
    client, _ = open_link(links_app, screen="panels=comments,score", comments="hide")
    page = client.post("/_dash-update-component", json=route_body("/tv", "?panels=comments"))
    assert page.status_code == 200 and SECRET not in page.get_data(as_text=True)
    sent = poll(client, {"panels": "comments"})
    assert SECRET not in json.dumps(sent)
    assert "tv-comments-body" not in sent  # never built, never sent
    gong = sent["tv-latest"]["data"]
    assert gong["text"] is None and gong["score"] in (2, 10)
    # Asking the router for the manager view with a wall link renders the link's wall.
    manager_page = client.post("/_dash-update-component", json=route_body("/", "")).get_data(
        as_text=True)
    assert '"id":"tv-root"' in manager_page and "mgr-root" not in manager_page
    assert SECRET not in manager_page


def test_a_manager_link_without_comments_shows_why_the_card_is_empty(links_app):
    client, _ = open_link(links_app, role="manager", comments="hide")
    page = client.post("/_dash-update-component", json=route_body("/", ""))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and SECRET not in text
    assert "comments are not shared through this link" in text


def test_a_manager_link_cannot_widen_its_segments_through_the_url_or_the_dropdowns(links_app):
    client, row = open_link(links_app, role="manager", screen="product=Ledger")
    page = client.post("/_dash-update-component", json=route_body("/", "?product=Pulse"))
    text = page.get_data(as_text=True)
    assert '"value":"Ledger"' in text and '"value":"Pulse"' not in text  # the options
    assert "this link shows only Ledger" in text  # the notice names what was dropped
    services = get_services(links_app)
    with links_app.server.test_request_context("/"):
        g.access_mode, g.share_link = "links", services.links.get(row.id)
        outputs = manager.run_update(services, {"query": {}}, None, "30d",
                                     [["Pulse"], None, None])
        subtitle = outputs[len(manager.PAGE.output_names())]
        assert subtitle == "Last 30 days · Ledger"
        assert manager.list_segment_values(services)["product"] == ["Ledger"]


def test_a_screen_reports_its_build_and_learns_to_reload(links_app):
    client, row = open_link(links_app, screen="panels=score")
    book = get_services(links_app).links
    status = poll(client, {})["tv-status"]["data"]
    assert "reload" not in status
    assert book._pending[row.id]["last_build"] == get_services(links_app).build_id
    before = datetime.now(UTC)
    assert book.links.request_reload(row.id)
    book.refresh(force=True)
    status = poll(client, {})["tv-status"]["data"]
    assert status["reload"] >= int(before.timestamp() * 1000) - 1000


def test_an_admin_sees_every_segment_and_every_comment(links_app):
    services = get_services(links_app)
    with links_app.server.test_request_context("/"):
        g.access_mode, g.admin = "links", True
        assert manager.list_segment_values(services)["product"] == ["Ledger", "Pulse"]
