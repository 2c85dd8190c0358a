"""The Screens page and the share dialog: admins list screens, reload them and create or revoke
links from a browser; a share link (or nobody) reaching the same callbacks changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from flask import g

from app import admin_pages
from app.services import get_services
from tests.conftest import ADMIN_TOKEN
from tests.test_link_pages import route_body

AUTH = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


def screens_click(trigger_id, value=1) -> dict:
    """The Screens page's callback body, as if ``trigger_id`` was clicked."""
    prop = "n_clicks"
    return {"output": f"..{admin_pages.TABLE}.children...{admin_pages.MESSAGE}.children..",
            "outputs": [{"id": admin_pages.TABLE, "property": "children"},
                        {"id": admin_pages.MESSAGE, "property": "children"}],
            "inputs": [{"id": admin_pages.REFRESH, "property": "n_intervals", "value": 1},
                       {"id": admin_pages.RELOAD_ALL, "property": prop,
                        "value": value if trigger_id == admin_pages.RELOAD_ALL else None},
                       [], []],
            "changedPropIds": [f"{admin_pages.RELOAD_ALL}.{prop}"]}


def test_the_screens_page_lists_links_for_admins_only(links_app):
    book = get_services(links_app).links
    book.links.create("Lobby TV", "wall")
    book.refresh(force=True)
    client = links_app.server.test_client()
    page = client.post("/_dash-update-component", json=route_body("/screens", ""),
                       headers=AUTH).get_json()
    page = json.dumps(page)
    assert "Lobby TV" in page and "Reload all screens" in page and "not opened yet" in page
    _, token = book.links.create("Remote team", "manager")
    book.refresh(force=True)
    manager_link = links_app.server.test_client()
    manager_link.get(f"/s/{token}")
    page = json.dumps(manager_link.post("/_dash-update-component",
                                        json=route_body("/screens", "")).get_json())
    assert admin_pages.ADMINS_ONLY in page and "Lobby TV" not in page


def test_reload_all_from_the_page_stamps_every_screen_and_a_link_cannot(links_app):
    book = get_services(links_app).links
    _, token = book.links.create("Remote team", "manager")
    book.refresh(force=True)
    manager_link = links_app.server.test_client()
    manager_link.get(f"/s/{token}")
    reply = manager_link.post("/_dash-update-component",
                              json=screens_click(admin_pages.RELOAD_ALL))
    assert admin_pages.ADMINS_ONLY in json.dumps(reply.get_json())
    assert book.reload_requested_at(None) is None  # nothing changed
    before = datetime.now(UTC)
    reply = links_app.server.test_client().post(
        "/_dash-update-component", json=screens_click(admin_pages.RELOAD_ALL), headers=AUTH)
    assert "Every screen reloads within a poll" in reply.get_data(as_text=True)
    assert book.reload_requested_at(None) >= before.replace(microsecond=0)


def test_an_admin_revokes_and_reloads_one_link(links_app):
    services = get_services(links_app)
    row, _ = services.links.links.create("Lobby TV", "wall")
    with links_app.server.test_request_context("/"):
        g.access_mode, g.admin = "links", True
        trigger = {"type": admin_pages.ROW_RELOAD, "id": row.id}
        assert "reload" in admin_pages.act_on_screens(services, trigger)
        assert services.links.reload_requested_at(row.id) is not None
        trigger = {"type": admin_pages.ROW_REVOKE, "id": row.id}
        assert "revoked" in admin_pages.act_on_screens(services, trigger)
        assert services.links.links.get(row.id).revoked_at is not None
        assert admin_pages.act_on_screens(services, {"type": "x", "id": 999}) == "No such link"


def test_the_share_dialog_creates_a_link_for_the_screen_on_show(links_app):
    services = get_services(links_app)
    with links_app.server.test_request_context("/"):
        g.access_mode, g.admin = "links", True
        shown = admin_pages.create_link(
            services, {"name": "Lobby TV", "role": "wall", "expires": "30d"},
            {"window": "90d", "product": "Ledger"})
        url = shown[1].children
        assert "/s/" in url
        [row] = services.links.links.list_links()
        assert row.screen == "window=90d&product=Ledger" and row.expires_at is not None
        refused = admin_pages.create_link(services, {"name": "", "expires": "0d"}, {})
        assert "name: must not be empty" in refused.children
        assert "expires: must be at least 1d" in refused.children
        assert len(services.links.links.list_links()) == 1  # a refusal stores nothing
        g.admin = False
        assert admin_pages.create_link(services, {"name": "Sneaky"}, {}).children == \
            admin_pages.ADMINS_ONLY
        assert len(services.links.links.list_links()) == 1
        assert admin_pages.build_share_dialog() is None  # not offered to a non-admin
