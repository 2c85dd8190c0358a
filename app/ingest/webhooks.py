"""Survey-tool webhooks: POST /api/v1/webhooks/<vendor> for Delighted, Wootric, Typeform and
AskNicely. Shared here: authentication, body decoding and dispatch to the vendor's mapping.

Every webhook is authenticated: by the vendor's signature when NPS_TV_<VENDOR>_SECRET is set,
otherwise by a token in the URL (``?token=``), since survey tools let you paste a URL but rarely
add headers. The token is the vendor's own NPS_TV_<VENDOR>_TOKEN when set (then the ingest token
is not accepted there, so one pasted URL is rotated alone), else NPS_TV_INGEST_TOKEN. With
nothing configured the endpoint refuses (403) and says what to set.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Request, jsonify, request

from app.config import Settings
from app.ingest.http import (
    ApiError,
    failed_attempt,
    parse_json,
    read_body,
    refuse_if_throttled,
)
from app.ingest.rules import TimeRange
from app.ingest.signatures import check_replay, verify_delighted, verify_typeform, verify_wootric
from app.ingest.tokens import token_valid
from app.ingest.vendors import (
    Ignored,
    Mapped,
    SegmentMap,
    build_segment_map,
    map_asknicely,
    map_delighted,
    map_typeform,
    map_wootric,
)
from app.services import get_services

API = "/api/v1/webhooks"
FORM_TYPE = "application/x-www-form-urlencoded"
FORM_KEY_RE = re.compile(r"([^\[\]]+)((?:\[[^\[\]]*\])*)")
MAX_FORM_FIELDS = 1000
MAX_FORM_DEPTH = 5


@dataclass(frozen=True)
class Vendor:
    """One survey tool: how its payload maps, and how (if at all) it signs deliveries."""

    name: str
    map_payload: Callable[[dict[str, Any], SegmentMap, TimeRange], Mapped]
    secret_setting: str | None = None  # attribute of Settings holding the signing secret
    verify: Callable[[bytes, Mapping[str, str], str], None] | None = None
    form_encoded: bool = False

    def secret(self, settings: Settings) -> str:
        """The configured signing secret, or empty when signatures are not checked."""
        return getattr(settings, self.secret_setting) if self.secret_setting else ""

    @property
    def secret_env(self) -> str | None:
        """The environment variable that sets the secret (None: the vendor signs nothing)."""
        return f"NPS_TV_{self.secret_setting.upper()}" if self.secret_setting else None

    @property
    def token_env(self) -> str:
        """The environment variable of this vendor's own URL token."""
        return f"NPS_TV_{self.name.upper()}_TOKEN"

    def tokens(self, settings: Settings) -> tuple[str, str]:
        """The tokens its URL accepts (comma-separated) and the variable that sets them: its
        own when set, otherwise the ingest token."""
        own = getattr(settings, f"{self.name}_token")
        return (own, self.token_env) if own else (settings.ingest_token, "NPS_TV_INGEST_TOKEN")


VENDORS: dict[str, Vendor] = {v.name: v for v in (
    Vendor("delighted", map_delighted, "delighted_secret", verify_delighted),
    Vendor("wootric", map_wootric, "wootric_secret", verify_wootric, form_encoded=True),
    Vendor("typeform", map_typeform, "typeform_secret", verify_typeform),
    Vendor("asknicely", map_asknicely),  # AskNicely signs nothing: the URL token only
)}


def build_blueprint(settings: Settings | None = None) -> Blueprint:
    """Routes for the vendor webhooks; with ``settings``, a bad segment mapping fails now."""
    if settings is not None:
        build_segment_map(settings.webhook_segments, settings.segment_fields)
    bp = Blueprint("nps_webhooks", __name__)

    @bp.post(f"{API}/<name>")
    def receive(name: str):
        vendor = VENDORS.get(name)
        if vendor is None:
            raise ApiError.single(404, "vendor", f"{name!r} is not a supported survey tool; "
                                                 f"use one of {', '.join(VENDORS)}",
                                  error="not found")
        services = get_services()
        settings = services.settings
        secret = vendor.secret(settings)
        client = authenticate(vendor, request, settings)
        body = read_body(request, settings.max_body_bytes)
        if secret:
            try:
                vendor.verify(body, request.headers, secret)
            except ApiError as exc:
                raise failed_attempt(request, client, exc) from None
        payload = decode_payload(vendor, request, body)
        if secret:
            try:
                check_replay(vendor.name, payload, settings.replay_window_seconds)
            except ApiError as exc:
                raise failed_attempt(request, client, exc) from None
        try:
            mapping = build_segment_map(settings.webhook_segments, settings.segment_fields)
        except ValueError as exc:
            raise ApiError.single(500, "NPS_TV_WEBHOOK_SEGMENTS", str(exc),
                                  error="server misconfigured") from None
        mapped = vendor.map_payload(payload, mapping, TimeRange.from_settings(settings))
        if isinstance(mapped, Ignored):
            return jsonify({"ignored": mapped.event}), 200
        result = services.store.upsert_responses(mapped)
        return jsonify({"received": len(mapped), "inserted": result.inserted,
                        "updated": result.updated, "unchanged": result.unchanged}), (
            201 if result.inserted else 200)

    return bp


def authenticate(vendor: Vendor, req: Request, settings: Settings) -> str:
    """Signature expected (secret set), else one of the vendor's URL tokens; never neither.

    Returns the client's address, for counting a signature that fails once the body is read.
    """
    tokens, token_env = vendor.tokens(settings)
    if not vendor.secret(settings) and not tokens:
        hint = (f"set {vendor.secret_env} to the signing secret from {vendor.name}, or "
                if vendor.secret_env else "")
        raise ApiError.single(
            403, "token", f"the {vendor.name} webhook is disabled: {hint}set {vendor.token_env} "
                          f"or NPS_TV_INGEST_TOKEN and paste {API}/{vendor.name}?token=<token> "
                          f"into {vendor.name}", error="forbidden")
    client = refuse_if_throttled(req, "token")
    if vendor.secret(settings):
        return client  # the signature over the raw body is checked once the body is read
    given = req.args.get("token", "")
    scheme, _, bearer = req.headers.get("Authorization", "").partition(" ")
    if not given and scheme.lower() == "bearer":
        given = bearer.strip()  # for tools that can add a header (AskNicely can)
    if not given:
        raise failed_attempt(req, client, ApiError.single(
            401, "token", f"is missing: add ?token=<{token_env}> to the webhook URL",
            error="unauthorized"))
    if not token_valid(given, tokens):
        raise failed_attempt(req, client, ApiError.single(401, "token", "is not valid",
                                                          error="unauthorized"))
    return client


def decode_payload(vendor: Vendor, req: Request, body: bytes) -> dict[str, Any]:
    """The body as an object: strict JSON, or (Wootric) Rack-style form fields."""
    mimetype = req.mimetype or ""
    is_json = mimetype == "application/json" or mimetype.endswith("+json")
    if vendor.form_encoded and mimetype == FORM_TYPE:
        return decode_form(body)
    if not is_json:
        accepted = "application/json" + (f" or {FORM_TYPE}" if vendor.form_encoded else "")
        raise ApiError.single(415, "Content-Type", f"must be {accepted}, "
                                                   f"got {mimetype or 'none'!r}",
                              error="unsupported media type")
    payload = parse_json(body)
    if not isinstance(payload, dict):
        raise ApiError.single(400, "body", f"must be a JSON object, got "
                                           f"{type(payload).__name__}")
    return payload


def decode_form(body: bytes) -> dict[str, Any]:
    """``response[end_user_properties][plan]=Pro&event_name=created`` as nested objects."""
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True,
                          encoding="utf-8", errors="strict", max_num_fields=MAX_FORM_FIELDS)
    except UnicodeDecodeError as exc:
        raise ApiError.single(400, "body", f"is not valid UTF-8 form data (byte {exc.start} "
                                           "of the body or of a %-escaped value)") from None
    except ValueError as exc:
        raise ApiError.single(400, "body", f"is not valid form data: {exc}") from None
    out: dict[str, Any] = {}
    for key, value in pairs:
        match = FORM_KEY_RE.fullmatch(key)
        if match is None:
            raise ApiError.single(400, key or "body", "is not a valid form field name")
        parts = [match.group(1), *re.findall(r"\[([^\[\]]*)\]", match.group(2))]
        if len(parts) > MAX_FORM_DEPTH or "" in parts:
            # Lists (name[]=a) appear in no documented Wootric payload, so they are refused.
            raise ApiError.single(400, key, f"must be name[key]..., at most {MAX_FORM_DEPTH} "
                                            "levels deep, without []")
        if "\x00" in value:  # as parse_json: PostgreSQL text cannot hold NUL
            raise ApiError.single(400, key, "contains a NUL character (%00), which cannot be "
                                            "stored")
        _assign(out, parts, value, key)
    return out


def _assign(target: dict[str, Any], parts: list[str], value: str, key: str) -> None:
    for part in parts[:-1]:
        child = target.setdefault(part, {})
        if not isinstance(child, dict):
            raise ApiError.single(400, key, "conflicts with another field of the same name")
        target = child
    last = parts[-1]
    if last in target:
        raise ApiError.single(400, key, "appears twice in the form")
    target[last] = value
