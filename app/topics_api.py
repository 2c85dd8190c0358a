"""Admin API for a response's topics (admin token, like /api/v1/events):
``GET /api/v1/responses/<id>/topics`` (its topics, the tagger's and the corrections) and
``PUT`` with ``{"topics": [...]}`` (the full set it should have; the difference to the tagger
is stored as corrections, which win over the tagger, also after a retag).

The manager view's "Edit topics" dialog calls the same store method (``Store.set_topics``).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from app.ingest.http import (
    ApiError,
    check_bearer,
    check_row_id,
    parse_json,
    read_body,
    require_json_type,
)
from app.ingest.schema import problems_from
from app.services import get_services
from app.store.corrections import MAX_TOPICS_PER_COMMENT, CorrectionRefused

API = "/api/v1"


class TopicsIn(BaseModel):
    """The body of PUT /api/v1/responses/<id>/topics."""

    model_config = ConfigDict(extra="forbid")

    topics: list[str]

    @field_validator("topics", mode="before")
    @classmethod
    def _topics(cls, value: Any) -> list[str]:
        if not isinstance(value, list) or any(not isinstance(t, str) for t in value):
            raise ValueError("must be a list of topic names (strings); [] for none")
        if len(value) > MAX_TOPICS_PER_COMMENT:
            raise ValueError(f"at most {MAX_TOPICS_PER_COMMENT} topics")
        return value


def refused(exc: CorrectionRefused) -> ApiError:
    """A store refusal as the API's error, naming the field."""
    return ApiError.single(exc.status, exc.field, exc.reason,
                           error="not found" if exc.status == 404 else "invalid request")


def get_topics(response_id: int):
    """GET /api/v1/responses/<id>/topics (admin token)."""
    check_bearer(request, get_services().settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    check_row_id(response_id, "response")
    try:
        state = get_services().store.topic_state(response_id)
    except CorrectionRefused as exc:
        raise refused(exc) from None
    return jsonify(state.as_dict())


def put_topics(response_id: int):
    """PUT /api/v1/responses/<id>/topics with ``{"topics": [...]}`` (admin token)."""
    services = get_services()
    check_bearer(request, services.settings.admin_token, "NPS_TV_ADMIN_TOKEN")
    check_row_id(response_id, "response")
    require_json_type(request)
    payload = parse_json(read_body(request, services.settings.max_body_bytes))
    if not isinstance(payload, dict):
        raise ApiError.single(400, "body", 'must be a JSON object: {"topics": [...]}')
    try:
        wanted = TopicsIn.model_validate(payload)
        state = services.store.set_topics(response_id, wanted.topics, who="admin (api)")
    except ValidationError as exc:
        raise ApiError(400, problems_from(exc)) from None
    except CorrectionRefused as exc:
        raise refused(exc) from None
    return jsonify(state.as_dict())


def build_blueprint() -> Blueprint:
    """Routes of the topics admin API."""
    bp = Blueprint("nps_topics", __name__)
    bp.add_url_rule(f"{API}/responses/<int:response_id>/topics", view_func=get_topics,
                    methods=["GET"])
    bp.add_url_rule(f"{API}/responses/<int:response_id>/topics", view_func=put_topics,
                    methods=["PUT"])
    return bp
