"""JSON endpoints and /health: they read the snapshot, never the database (but /health's ping)."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, jsonify, request

from app import __version__
from app.ingest.http import ApiError, current_services
from app.views import RequestError, View, ViewRequest

API_PREFIX = "/api/v1"


def build_blueprint() -> Blueprint:
    """The Flask blueprint with /health and /api/v1/*."""
    bp = Blueprint("nps_api", __name__)

    @bp.get("/health")
    def health():
        services = current_services()
        database_ok = services.store.ping()
        body = {
            "status": "ok" if database_ok else "degraded",
            "database": "reachable" if database_ok else "unreachable",
            "version": __version__,
            "build_id": services.build_id,
            **services.poller.health(),
        }
        return jsonify(body), 200 if database_ok else 503

    @bp.get(f"{API_PREFIX}/summary")
    def summary():
        services = current_services()
        try:
            req = ViewRequest.parse(request.args, services.settings.segment_fields,
                                    f"{services.settings.window_days}d")
        except RequestError as exc:
            path, _, message = str(exc).partition(": ")
            return ApiError.single(400, path, message).to_response()
        return jsonify(summary_json(services.poller.view(req)))

    return bp


def summary_json(view: View) -> dict:
    """The /api/v1/summary body for a view."""
    body = view.current.as_dict()
    body.update({
        "window": {
            "label": view.label,
            "start": view.start.isoformat(),
            "end": view.end.isoformat(),
            "segments": {name: list(values) for name, values in view.request.segments},
        },
        "previous": view.previous.as_dict() if view.previous is not None else None,
        "delta": round(view.delta, 4) if view.delta is not None else None,
        "as_of": view.as_of.astimezone(UTC).isoformat(),
        "snapshot_version": view.version,
        "generated_at": datetime.now(UTC).isoformat(),
    })
    return body
