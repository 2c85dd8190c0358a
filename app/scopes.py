"""What a share link lets its holder see, and which link (if any) the current request
carries: the gate (``app/access.py``) resolves the link and stores it on ``flask.g``; the API
and the pages read it here, through :func:`current_link` and :func:`current_scope`.

Low in the layers (store records and flask only) so the ingest routes can apply it too.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from flask import g, has_request_context

from app.segments import join_values, split_values
from app.store.links import ShareLinkRow

VIEW_PARAMS = ("window", "from", "to")
SCREEN_PARAMS = ("panels", "dwell", "theme", "shift", "followups", "power")


class OutOfScope(ValueError):
    """A request asked for more than its link allows: ``field: reason``."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field, self.reason = field, reason


def current_link() -> ShareLinkRow | None:
    """The share link the current request came with (None: none, or outside a request)."""
    return g.get("share_link") if has_request_context() else None


def current_scope() -> LinkScope | None:
    """The scope of the current request's share link (None: unrestricted or no link)."""
    link = current_link()
    return scope_of(link) if link is not None else None


def request_scope() -> LinkScope | None:
    """The scope a page or callback must keep to: the share link's in links mode; none for an
    admin (token or /admin session), in open mode, or outside a request."""
    if access_mode_of_request() != "links" or is_admin_request():
        return None
    return current_scope()


def is_admin_request() -> bool:
    """Whether the gate accepted the admin token on the current request."""
    return bool(g.get("admin")) if has_request_context() else False


def access_mode_of_request() -> str | None:
    """``open`` or ``links`` as the gate decided for this request (None outside a request)."""
    return g.get("access_mode") if has_request_context() else None


@dataclass(frozen=True)
class LinkScope:
    """What one link may see: its role, pinned screen, segment limits and comments."""

    link_id: int
    role: str
    screen: str  # canonical query; pinned for wall links
    segments: tuple[tuple[str, tuple[str, ...]], ...]
    view: tuple[tuple[str, str], ...]  # window/from/to pinned by the link (may be empty)
    comments_hidden: bool

    @property
    def pinned(self) -> bool:
        """Wall links pin the whole screen: the browser's own parameters are ignored."""
        return self.role == "wall"


def scope_of(link: ShareLinkRow) -> LinkScope:
    """The scope a stored link carries (its screen was validated when it was created)."""
    pairs = parse_qsl(link.screen, keep_blank_values=True)
    reserved = (*SCREEN_PARAMS, *VIEW_PARAMS)
    segments = tuple((k, tuple(split_values(value)))
                     for k, value in pairs if k not in reserved)
    view = tuple((k, v) for k, v in pairs if k in VIEW_PARAMS)
    return LinkScope(link.id, link.role, link.screen, segments, view, link.comments == "hide")


def scoped_args(args: Mapping[str, str], scope: LinkScope,
                segment_fields: tuple[str, ...]) -> dict[str, str]:
    """A request's query under a link's scope: segment values beyond it are refused
    (OutOfScope, "out of scope"); missing ones take the link's; a wall link's pinned
    window replaces the request's."""
    result = dict(args.items())
    for name, allowed in scope.segments:
        asked = split_values(args.get(name) or "")
        outside = [v for v in asked if v not in allowed]
        if outside:
            raise OutOfScope(name, f"{outside[0]!r} is outside this link's scope "
                                 f"({name}={join_values(allowed)})")
        result[name] = join_values(allowed if scope.pinned or not asked else asked)
    if scope.pinned:  # the screen is the link's: the browser's own filters are ignored
        pinned = dict(scope.segments)
        for name in (*VIEW_PARAMS, *segment_fields):
            if name not in pinned:
                result.pop(name, None)
        result.update(dict(scope.view))
    return result


def screen_query_for(query: Mapping[str, str], scope: LinkScope | None,
                     segment_fields: tuple[str, ...]) -> tuple[dict[str, str], tuple[str, ...]]:
    """The screen query a page should apply, and notices for what was dropped.

    No link: the browser's query as is. A wall link: its pinned screen, whatever the browser
    sent. A manager link: the browser's query with segment values outside the link's scope
    removed (all of them removed: the link's own values), never widened.
    """
    if scope is None:
        return dict(query), ()
    if scope.pinned:
        return dict(parse_qsl(scope.screen, keep_blank_values=True)), ()
    result = {k: v for k, v in query.items()}
    notices = []
    for name, allowed in scope.segments:
        asked = split_values(query.get(name) or "")
        kept = [v for v in asked if v in allowed]
        if len(kept) < len(asked):
            notices.append(f"{name}: this link shows only {', '.join(allowed)}")
        result[name] = join_values(kept or allowed)
    return result, tuple(notices)
