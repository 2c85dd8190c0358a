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
from app.wire import TAGS, Wire, WireMemo

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
                         scroll: bool = True, fields: tuple[str, ...] = (),
                         profanity: Profanity | None = None, editable: bool = False,
                         card: Callable[..., Any] | None = None,
                         tags: Any = html) -> list[Component]:
    """The comment feed for a view: newest first, looping upwards when ``scroll`` is on, the
    words of ``profanity`` masked, each with an "Edit topics" button when ``editable``.
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
    scrolling = scroll and len(cards) >= MIN_TO_SCROLL
    track: list[Any] = list(cards)
    if scrolling:
        # A hidden second copy makes the loop seamless: the track moves up by half its height.
        track.append(tags.Div(cards, className="comments-clone", **{"aria-hidden": "true"}))
    style = {"animationDuration": f"{len(cards) * SECONDS_PER_COMMENT}s"} if scrolling else {}
    return [tags.Div(className="comments-viewport", children=[
        tags.Div(track, id=COMMENTS_LIST, style=style,
                 className="comments-track is-scrolling" if scrolling else "comments-track"),
    ])]


def build_comment_card(comment: Comment, now: datetime, fields: tuple[str, ...] = (),
                       profanity: Profanity | None = None, editable: bool = False,
                       tags: Any = html) -> Any:
    """One comment: score badge, the verbatim, relative time, segment and topic chips (and
    an "Edit topics" button for an admin); ``tags`` as for ``build_comments_panel``."""
    category = category_name(comment.score)
    order = {name: i for i, name in enumerate(fields)}
    names = sorted(comment.segments, key=lambda name: (order.get(name, len(order)), name))
    # Segment values can come from respondents (hidden survey fields): masked like comments.
    chips = [tags.Span(clean_for_display(comment.segments[name], CHIP_CHARS, profanity),
                       className="chip chip-segment", title=name)
             for name in names if comment.segments[name]]
    chips += [tags.Span(clean_for_display(topic, CHIP_CHARS), className="chip chip-topic")
              for topic in comment.topics]
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
_SHOWN: dict[int, tuple[Comment, tuple]] = {}
SHOWN_SIZE = 4096


def _shown_as(c: Comment) -> tuple:
    """What the feed shows of a comment (its part of ``needs``), one tuple per comment."""
    found = _SHOWN.get(id(c))
    if found is None or found[0] is not c:  # an id is only reused once its object is gone
        if len(_SHOWN) >= SHOWN_SIZE:
            _SHOWN.clear()
        found = _SHOWN[id(c)] = (c, (c.id, c.created_at, c.score, c.text,
                                     tuple(c.segments.items()), c.topics))
    return found[1]


def build(view: View, ctx: PartContext) -> list[dict]:
    """The registry's builder: a scrolling feed on the wall, a still list for managers, in
    wire form."""
    return build_comments_panel(view, datetime.now(UTC), limit=ctx.limit or len(view.comments),
                                scroll=ctx.surface == "wall", fields=ctx.segment_fields,
                                profanity=ctx.profanity, editable=ctx.editable,
                                card=shared_card, tags=TAGS)
