"""Share links on the pages: a wall link's screen is pinned, a manager link cannot widen its
segments, a link without comments never sends a comment (page, poll or gong), and a screen
reports itself and learns that it should reload. Through the real gate, on SQLite and
PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from flask import g

from app import manager
from app.services import get_services
from tests.conftest import ADMIN_TOKEN, LINK_SECRET, make_record, wall_poll_body


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
    assert sent["tv-state"]["data"]["key"] == "dark-norest?window=90d&product=Ledger"
    assert "tv-score-data" in sent and "tv-comments-data" not in sent
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
    assert page.status_code == 200 and LINK_SECRET not in page.get_data(as_text=True)
    sent = poll(client, {"panels": "comments"})
    assert LINK_SECRET not in json.dumps(sent)
    assert "tv-comments-data" not in sent  # never built, never sent
    gong = sent["tv-latest"]["data"]
    assert gong["text"] is None and gong["score"] in (2, 10)
    # Asking the router for the manager view with a wall link renders the link's wall.
    manager_page = client.post("/_dash-update-component", json=route_body("/", "")).get_data(
        as_text=True)
    assert '"id":"tv-root"' in manager_page and "mgr-root" not in manager_page
    assert LINK_SECRET not in manager_page


def test_a_manager_link_without_comments_shows_why_the_card_is_empty(links_app):
    client, _ = open_link(links_app, role="manager", comments="hide")
    page = client.post("/_dash-update-component", json=route_body("/", ""))
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and LINK_SECRET not in text
    assert "comments are not shared through this link" in text


def test_a_manager_links_address_says_what_it_shows_not_what_it_asked(links_app):
    """A link held to Ledger asking for Pulse is shown Ledger with a notice; the address the
    workspace wrote back still said product=Pulse, so a copied link said something else."""
    from tests.test_hostile_requests import WORKSPACE, call

    client, _ = open_link(links_app, role="manager", screen="product=Ledger")
    deps = client.get("/_dash-dependencies").get_json()
    body = call(deps, WORKSPACE, {}, "30d",
                [({"field": "product"}, ["Pulse"]), ({"field": "region"}, None),
                 ({"field": "plan"}, None)],
                {"query": {"product": "Pulse", "window": "30d", "compare": "region"}})
    reply = client.post("/_dash-update-component", json=body)
    assert reply.status_code == 200, reply.get_data(as_text=True)[:300]
    search = reply.get_json()["response"]["page-url"]["search"]
    assert "product=Ledger" in search and "Pulse" not in search, search


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


def manager_poll_body(query: dict, window: str = "30d") -> dict:
    """What the manager page's poll sends (three segment filters, none chosen)."""
    from app.manager import FILTER_TYPE, IDS, PAGE, SUBTITLE, WINDOW
    outputs = [{"id": i, "property": p} for i, p in PAGE.poll_outputs([(SUBTITLE, "children")])]
    filters = [{"id": {"type": FILTER_TYPE, "field": f}, "property": "value", "value": None}
               for f in ("product", "region", "plan")]
    return {"output": ".." + "...".join(f"{o['id']}.{o['property']}" for o in outputs) + "..",
            "outputs": outputs,
            "inputs": [{"id": IDS.poll, "property": "n_intervals", "value": 1},
                       {"id": WINDOW, "property": "value", "value": window}, filters],
            "state": [{"id": IDS.config, "property": "data", "value": {"query": query}},
                      {"id": IDS.state, "property": "data", "value": None}],
            "changedPropIds": [f"{IDS.poll}.n_intervals"]}


def test_a_wall_link_cannot_read_the_manager_pages_callbacks(links_app):
    client, _ = open_link(links_app, screen="panels=score&window=90d&product=Ledger")
    reply = client.post("/_dash-update-component", json=manager_poll_body({}, "all"))
    assert reply.status_code == 403 and reply.headers["X-NPS-TV-Link"] == "scope"
    assert LINK_SECRET not in reply.get_data(as_text=True)
    manager_link, _ = open_link(links_app, role="manager")
    assert manager_link.post("/_dash-update-component",
                             json=manager_poll_body({})).status_code == 200


def test_the_api_keeps_a_wall_links_pinned_window(links_app):
    client, _ = open_link(links_app, screen="panels=score&window=7d&product=Ledger")
    rows = client.get("/api/v1/responses?limit=500").get_json()["responses"]
    oldest = min(datetime.fromisoformat(r["created_at"]) for r in rows)
    assert rows and datetime.now(UTC) - oldest < timedelta(days=7)
    assert {r["segments"]["product"] for r in rows} == {"Ledger"}


def test_a_wall_link_without_a_window_reads_the_walls_default_window_only(links_app):
    """Its wall and comments.csv show the server's default window (30 days): the responses
    API read the whole history for it (and customers' words with it)."""
    services = get_services(links_app)
    days = services.settings.window_days
    services.store.upsert_responses([make_record(
        901, 3, when=datetime.now(UTC) - timedelta(days=2 * days), comment="Old words",
        product="Ledger")])
    client, _ = open_link(links_app, screen="panels=score,comments&product=Ledger")
    rows = client.get("/api/v1/responses?limit=500").get_json()["responses"]
    oldest = min(datetime.fromisoformat(r["created_at"]) for r in rows)
    assert rows and datetime.now(UTC) - oldest < timedelta(days=days)
    admin = links_app.server.test_client().get(
        "/api/v1/responses?limit=500&product=Ledger",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}).get_json()["responses"]
    assert "Old words" in {r["comment"] for r in admin}  # stored: the link keeps it out
    assert "Old words" not in {r["comment"] for r in rows}


def test_a_manager_links_filters_offer_nothing_seen_only_outside_it(links_app):
    services = get_services(links_app)
    services.store.upsert_responses([make_record(900, 9, when=datetime.now(UTC),
                                                 product="Pulse", region="PulseOnlyRegion")])
    services.poller.poll()
    client, _ = open_link(links_app, role="manager", screen="product=Ledger")
    page = client.post("/_dash-update-component", json=route_body("/", "")).get_data(
        as_text=True)
    assert "PulseOnlyRegion" not in page and '"value":"EMEA"' in page


def test_a_malformed_trigger_is_a_400_not_a_traceback(links_app):
    client, _ = open_link(links_app, role="manager")
    for bad in ("{bad.value", "{1:2}.value", "no-dot", ".value", "{\"a\": [1}.value"):
        body = {**manager_poll_body({}), "changedPropIds": [bad]}
        reply = client.post("/_dash-update-component", json=body)
        assert reply.status_code == 400, bad
        assert "changedPropIds[0]" in reply.get_data(as_text=True)


def test_admin_api_paths_end_at_a_boundary(links_app):
    client = links_app.server.test_client()
    for path in ("/api/v1/eventsX", "/api/v1/share-linksX", "/api/v1/screensfoo/bar"):
        assert client.get(path).status_code == 401, path
    assert client.get("/api/v1/share-links").status_code == 401  # its own token check
