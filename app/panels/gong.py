"""The gong's payload: the newest response as the browser shows it (assets/nps_tv.js)."""

from __future__ import annotations

from app.panels import CHIP_CHARS, PartContext, category_name
from app.privacy import Profanity, clean_for_display
from app.views import View

GONG_CHARS = 280  # the card stays a card: a few lines, whatever was stored


def build_latest_payload(view: View, fields: tuple[str, ...],
                         profanity: Profanity | None = None, comments: bool = True) -> dict | None:
    """The newest response of a view for the gong, cleaned for a public room; None if none.
    Without ``comments`` (a link that hides them) the card has the score and chips only."""
    c = view.latest
    if c is None:
        return None
    chips = [clean_for_display(c.segments[f], CHIP_CHARS, profanity)
             for f in fields if c.segments.get(f)]
    return {"id": c.id, "score": c.score, "category": category_name(c.score),
            "text": clean_for_display(c.text, GONG_CHARS, profanity) if comments else None,
            "at": c.created_at.timestamp(),
            "chips": chips}


def needs(view: View, ctx: PartContext) -> tuple:
    """The newest response, as the gong shows it."""
    c = view.latest
    if c is None:
        return (None,)
    return (c.id, c.created_at, c.score, c.text if ctx.comments else None,
            tuple(c.segments.items()), ctx.segment_fields, ctx.profanity, ctx.comments)


def build(view: View, ctx: PartContext) -> dict | None:
    """The registry's builder: the gong's payload."""
    return build_latest_payload(view, ctx.segment_fields, ctx.profanity, ctx.comments)
