"""The comments panel: the newest verbatims, scrolling slowly, with badges and chips."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from dash import html
from dash.development.base_component import Component

from app.panels import CHIP_CHARS, PartContext, category_name, describe_window, format_ago
from app.privacy import Profanity, clean_for_display
from app.rollup import Comment
from app.views import View
from app.wire import TAGS, ObjectMemo, Wire, WireMemo

COMMENTS_LIST = "comments-list"
# Pattern id type of a comment's "Edit topics" button (admins on the manager page only);
# app/topic_editor.py opens its dialog.
TOPICS_EDIT = "comment-topics-edit"
SECONDS_PER_COMMENT = 7  # scroll speed: one card every few seconds
MIN_TO_SCROLL = 4  # fewer than this fit on screen, so they stand still
# A card stays a card: about six lines at wall size (like the gong), whatever was stored.
COMMENT_CHARS = 420
# Cards in wire form that screens share: about 5 KB each in memory, so at most about 5 MB.
CARDS = WireMemo(1024)


def build_comments_panel(view: View, now: datetime | None = None, *, limit: int,
                         fields: tuple[str, ...] = (),
                         profanity: Profanity | None = None, editable: bool = False,
                         card: Callable[..., Any] | None = None,
                         tags: Any = html) -> list[Component]:
    """The manager's comment list for a view (the wall draws its feed from ``build_feed``):
    newest first, the words of ``profanity`` masked, each with an "Edit topics" button when
    ``editable``.
    ``card`` builds each card (``build_comment_card`` by default); ``tags`` makes the rest
    (``dash.html``, or ``app.wire.TAGS`` for the wire form)."""
    now = now or datetime.now(UTC)
    comments = view.comments[:limit]
    if not comments:
        where = describe_window(view.request.window, view.label)
        return [tags.Div(f"No comments {where}", className="panel-message")]
    card = card or build_comment_card
    cards = [card(c, now, fields=fields, profanity=profanity, editable=editable)
             for c in comments]
    return [tags.Div(className="comments-viewport", children=[
        tags.Div(cards, id=COMMENTS_LIST, className="comments-track"),
    ])]


def build_comment_card(comment: Comment, now: datetime, fields: tuple[str, ...] = (),
                       profanity: Profanity | None = None, editable: bool = False,
                       tags: Any = html) -> Any:
    """One comment: score badge, the verbatim, relative time, segment and topic chips (and
    an "Edit topics" button for an admin); ``tags`` as for ``build_comments_panel``."""
    category = category_name(comment.score)
    chips = [tags.Span(text, className=f"chip chip-{kind}", **({"title": title} if title else {}))
             for text, kind, title in card_chips(comment, fields, profanity)]
    return tags.Div(
        className="comment-card", **{"data-category": category, "data-id": str(comment.id)},
        children=[
            tags.Div(str(comment.score), className=f"comment-badge badge-{category}",
                     title=category),
            tags.Div(className="comment-body", children=[
                tags.P(clean_for_display(comment.text, COMMENT_CHARS, profanity),
                       className="comment-text"),
                tags.Div(className="comment-meta", children=[
                    tags.Span(format_ago(comment.created_at, now), className="rel-time",
                              **{"data-ts": comment.created_at.isoformat(timespec="seconds")}),
                    *chips,
                    *([tags.Button("Edit topics", id={"type": TOPICS_EDIT, "id": comment.id},
                                   className="comment-edit", title="Correct this comment's "
                                   "topics (admins)")] if editable else []),
                ]),
            ]),
        ])


def card_chips(comment: Comment, fields: tuple[str, ...] = (),
               profanity: Profanity | None = None) -> list[tuple[str, str, str | None]]:
    """A card's chips as (text, kind, title): its segment values in ``fields`` order (the
    others after, by name), then its topics."""
    order = {name: i for i, name in enumerate(fields)}
    names = sorted(comment.segments, key=lambda name: (order.get(name, len(order)), name))
    # Segment values can come from respondents (hidden survey fields): masked like comments.
    chips = [(clean_for_display(comment.segments[name], CHIP_CHARS, profanity), "segment", name)
             for name in names if comment.segments[name]]
    return chips + [(clean_for_display(topic, CHIP_CHARS), "topic", None)
                    for topic in comment.topics]


def shared_card(comment: Comment, now: datetime, fields: tuple[str, ...] = (),
                profanity: Profanity | None = None, editable: bool = False) -> Wire:
    """``build_comment_card`` in wire form, built once for every screen that shows the
    comment alike (most feeds of one office draw on the same newest comments)."""
    key = (comment.id, comment.created_at, comment.score, comment.text,
           tuple(comment.segments.items()), comment.topics, fields, profanity, editable,
           format_ago(comment.created_at, now))
    return CARDS.get(key, lambda: build_comment_card(comment, now, fields, profanity, editable,
                                                     TAGS))


def needs(view: View, ctx: PartContext) -> tuple:
    """The comments shown (their words, chips and times) and the window's wording."""
    shown = tuple(map(_shown_as, view.comments[:ctx.limit]))
    return (shown, view.label, view.request.window, ctx.segment_fields, ctx.surface,
            ctx.profanity, ctx.editable)


# Each comment's needs by the comment (the rollup keeps a comment's object from snapshot to
# snapshot): every screen's feed hands its stamp the same tuples again, which ``parts.same``
# sees by identity instead of writing 20 comments out to hash them, per screen per change.
_SHOWN = ObjectMemo()


def _shown_as(c: Comment) -> tuple:
    """What the feed shows of a comment (its part of ``needs``), one tuple per comment."""
    return _SHOWN.get(c, lambda c: (c.id, c.created_at, c.score, c.text,
                                    tuple(c.segments.items()), c.topics))


def build_feed(view: View, *, limit: int, fields: tuple[str, ...] = (),
               profanity: Profanity | None = None) -> dict[str, Any]:
    """The wall's feed as data, which the page draws itself (assets/nps_tv.js
    ``draw_feed``, the same cards as ``build_comments_panel`` makes, scrolling in a loop):
    ``{"cards": [...], "scroll": bool, "seconds": the loop's length}``, or ``{"message":
    ...}`` when there are none. As Dash components the feed was three fifths of the wall's
    components (about 420, the loop's copy included), and every Dash cycle, one per change,
    walks every component several times: drawn, a change cost the wall's browser a third as
    much. Each card is shared by every screen that shows the comment alike (``feed_card``)."""
    comments = view.comments[:limit]
    if not comments:
        return {"message": f"No comments {describe_window(view.request.window, view.label)}"}
    cards = [feed_card(c, fields, profanity) for c in comments]
    return {"cards": cards, "scroll": len(cards) >= MIN_TO_SCROLL,
            "seconds": len(cards) * SECONDS_PER_COMMENT}


def feed_card(comment: Comment, fields: tuple[str, ...] = (),
              profanity: Profanity | None = None) -> Wire:
    """One comment of the wall's feed as data: its id, score, category, masked words, time
    (the page writes "4 min ago" from it, and keeps it current) and chips (``[text, kind]``
    or ``[text, kind, title]``); the same object for every screen and change that show it."""
    key = ("feed", comment.id, comment.created_at, comment.score, comment.text,
           tuple(comment.segments.items()), comment.topics, fields, profanity)

    def make() -> dict[str, Any]:
        chips = [[text, kind, title] if title else [text, kind]
                 for text, kind, title in card_chips(comment, fields, profanity)]
        return {"id": str(comment.id), "score": comment.score,
                "category": category_name(comment.score),
                "text": clean_for_display(comment.text, COMMENT_CHARS, profanity),
                "ts": comment.created_at.isoformat(timespec="seconds"), "chips": chips}
    return CARDS.get(key, make)


def build(view: View, ctx: PartContext) -> Any:
    """The registry's builder: the feed's data on the wall (``build_feed``), a still list of
    cards in wire form for managers."""
    if ctx.surface == "wall":
        return build_feed(view, limit=ctx.limit or len(view.comments),
                          fields=ctx.segment_fields, profanity=ctx.profanity)
    return build_comments_panel(view, datetime.now(UTC), limit=ctx.limit or len(view.comments),
                                fields=ctx.segment_fields,
                                profanity=ctx.profanity, editable=ctx.editable,
                                card=shared_card, tags=TAGS)
