"""Each vendor's webhook signature, and the replay check for vendors that sign a time.

Which vendors sign what (each checked against the vendor's documentation):
- Delighted: HMAC-SHA256 of the raw body; the body has no delivery time (event_data.updated_at
  is the response's version time, so an old delivery replays with its own valid signature).
- Wootric: HMAC-SHA1 of the raw body, which carries ``timestamp``, the time of the delivery:
  the only signed time of the four, so the only replay window (docs.wootric.com/webhooks).
- Typeform: HMAC-SHA256 of the raw body; no delivery time (submitted_at is the response's).
- AskNicely: no signature at all; only the URL token (or a header the user configures).
Replays the window cannot catch are made harmless by newest-wins upserts in the store.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from app.ingest.http import ApiError
from app.ingest.vendors import parse_vendor_time

# The payload field holding a signed delivery time, per vendor.
SIGNED_TIME_FIELDS = {"wootric": "timestamp"}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is None:
        value = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    return value


def _verify(headers: Mapping[str, str], name: str, prefix: str, expected: str,
            setting: str, fold_case: bool) -> None:
    given = (_header(headers, name) or "").strip()
    if not given:
        raise ApiError.single(401, name, f"is missing; {setting} is set, so every delivery "
                                         "must be signed", error="unauthorized")
    if given.lower().startswith(prefix):
        given = given[len(prefix):]
    if fold_case:
        given = given.lower()
    if not hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8")):
        raise ApiError.single(401, name, f"does not match the body signed with {setting}",
                              error="unauthorized")


def verify_delighted(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """X-Delighted-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>."""
    # Delighted signs with the account's API key; the header form is "sha256=<hex>" as parsed
    # by a real client (kiteco/kiteco, delighted verifyWebhook). The prefix is optional here.
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    _verify(headers, "X-Delighted-Webhook-Signature", "sha256=", digest,
            "NPS_TV_DELIGHTED_SECRET", fold_case=True)


def verify_wootric(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """X-Wootric-Signature: sha1=<hex HMAC-SHA1 of the raw body> (Wootric docs, Security)."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()
    _verify(headers, "X-Wootric-Signature", "sha1=", digest, "NPS_TV_WOOTRIC_SECRET",
            fold_case=True)


def verify_typeform(body: bytes, headers: Mapping[str, str], secret: str) -> None:
    """Typeform-Signature: sha256=<base64 HMAC-SHA256 of the raw body>."""
    # https://www.typeform.com/developers/webhooks/secure-your-webhooks/
    digest = base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest())
    _verify(headers, "Typeform-Signature", "sha256=", digest.decode("ascii"),
            "NPS_TV_TYPEFORM_SECRET", fold_case=False)


def check_replay(vendor: str, payload: Mapping[str, Any], window_seconds: float,
                 now: datetime | None = None) -> None:
    """401 when a signed delivery's own time lies outside the replay window (0: no check)."""
    name = SIGNED_TIME_FIELDS.get(vendor)
    if name is None or window_seconds <= 0:
        return
    setting = "NPS_TV_REPLAY_WINDOW_SECONDS"
    try:
        sent = parse_vendor_time(payload.get(name))
    except ValueError as exc:
        raise ApiError.single(401, name, f"is the signed delivery time, checked against "
                                         f"replays: {exc}", error="unauthorized") from None
    age = ((now or datetime.now(UTC)) - sent).total_seconds()
    if abs(age) > window_seconds:
        raise ApiError.single(
            401, name, f"is {abs(age):.0f} s {'old' if age > 0 else 'ahead'}; signed deliveries "
                       f"more than {window_seconds:g} s from now ({setting}) are refused as "
                       "replays", error="unauthorized")
