"""Admin JSON API for share links and the fleet of screens (admin token, like /api/v1/events):
POST/GET /api/v1/share-links, DELETE /api/v1/share-links/<id> (revokes), GET /api/v1/screens,
POST /api/v1/screens/reload (one link's screens, or all)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request

from app.ingest.http import (
    ApiError,
    check_bearer,
    check_row_id,
    parse_json,
    read_body,
    require_json_type,
)
from app.services import get_services
from app.share_input import LinkProblems, link_json, share_url, validate_link
from app.store.links import LinkConflict

API = "/api/v1"


def _admin() -> None:
    check_bearer(request, get_services().settings.admin_token, "NPS_TV_ADMIN_TOKEN")


def _json_object(allow_empty: bool = False) -> dict[str, Any]:
    settings = get_services().settings
    if allow_empty and not (request.content_length or request.headers.get("Transfer-Encoding")):
        return {}
    require_json_type(request)
    payload = parse_json(read_body(request, settings.max_body_bytes))
    if not isinstance(payload, dict):
        raise ApiError.single(400, "body", "must be a JSON object")
    return payload


def create_link():
    """POST /api/v1/share-links: 201 with the token and URL (shown only now)."""
    _admin()
    services = get_services()
    try:
        values = validate_link(_json_object(), services.settings)
        row, token = services.links.links.create(**values)
    except LinkProblems as exc:
        raise ApiError(400, [{"path": p.field, "message": p.reason}
                             for p in exc.problems]) from None
    except LinkConflict as exc:
        raise ApiError.single(409, "name", str(exc).partition(": ")[2],
                              error="conflict") from None
    services.links.refresh(force=True)
    body = link_json(row, services.settings)
    body.update({"token": token, "url": share_url(token, services.settings,
                                                  request.host_url)})
    response = jsonify(body)
    response.headers["Cache-Control"] = "no-store"
    return response, 201


def list_links():
    """GET /api/v1/share-links: every link, never a token or hash."""
    _admin()
    services = get_services()
    return jsonify({"share_links": [link_json(row, services.settings)
                                    for row in services.links.links.list_links()]})


def list_screens():
    """GET /api/v1/screens: the fleet, with last seen and silent flags."""
    _admin()
    services = get_services()
    rows = [link_json(row, services.settings) for row in services.links.links.list_links()]
    reload_all = services.links.links.reload_all_at()
    return jsonify({"screens": rows, "silent_after_seconds":
                    services.settings.screen_silent_seconds,
                    "reload_all_requested_at": reload_all.isoformat() if reload_all else None})


def revoke_link(link_id: int):
    """DELETE /api/v1/share-links/<id>: revoke (the row stays, for the record)."""
    _admin()
    check_row_id(link_id, "share link")
    services = get_services()
    row = services.links.links.revoke(link_id)
    if row is None:
        raise ApiError.single(404, "id", f"no share link with id {link_id}",
                              error="not found")
    services.links.refresh(force=True)
    return jsonify(link_json(row, services.settings))


def reload_screens():
    """POST /api/v1/screens/reload: ``{}`` for every screen, ``{"link_id": N}`` for one link's."""
    _admin()
    payload = _json_object(allow_empty=True)
    unknown = sorted(set(payload) - {"link_id"})
    if unknown:
        raise ApiError.single(400, unknown[0], "unknown field; send {} for every screen or "
                                               "{\"link_id\": N} for one link's")
    link_id = payload.get("link_id")
    if link_id is not None and (not isinstance(link_id, int) or isinstance(link_id, bool)
                                or not 0 < link_id < 2**31):
        raise ApiError.single(400, "link_id", "must be a share link id (a positive integer)"
                              " or null for every screen")
    services = get_services()
    if not services.links.links.request_reload(link_id):
        raise ApiError.single(404, "link_id", f"no share link with id {link_id}",
                              error="not found")
    services.links.refresh(force=True)
    return jsonify({"link_id": link_id, "reload_requested_at":
                    services.links.reload_requested_at(link_id).isoformat()})


def build_blueprint() -> Blueprint:
    """Routes of the share-link and screens admin API."""
    bp = Blueprint("nps_share", __name__)
    bp.add_url_rule(f"{API}/share-links", view_func=create_link, methods=["POST"])
    bp.add_url_rule(f"{API}/share-links", view_func=list_links, methods=["GET"])
    bp.add_url_rule(f"{API}/screens", view_func=list_screens, methods=["GET"])
    bp.add_url_rule(f"{API}/share-links/<int:link_id>", view_func=revoke_link, methods=["DELETE"])
    bp.add_url_rule(f"{API}/screens/reload", view_func=reload_screens, methods=["POST"])
    return bp
