"""Every panel, declared once. The wall, the manager grid, the client script (through the
page config), the URL parser and the part cache all read this registry.

Adding a panel: write ``app/panels/<name>.py`` with ``needs(view, ctx)`` (what it shows of a
view: equal tuples mean an equal panel) and ``build(view, ctx)`` (Dash components, their
wire form when ``wire=True``, or a figure dict when ``figure=True``), then add one ``Panel``
to ``PANELS`` below. Its name is
what ``?panels=`` and ``?dwell=`` take and what the CSS class ``tv-panel--<name>`` carries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from app.panels import PartContext, changes, comments, gong, score, topics, trend
from app.privacy import Profanity
from app.views import View

SURFACES = ("wall", "manager")


@dataclass(frozen=True)
class Panel:
    """One panel (or the gong's data): how it is named, titled, fingerprinted and built."""

    name: str
    needs: Callable[[View, PartContext], tuple]
    build: Callable[[View, PartContext], Any]
    title: str = ""  # the wall's heading
    nav: str = ""  # the wall's bar label
    card_title: str = ""  # the manager card's heading
    figure: bool = False  # a plotly figure (a graph fed from a store), not components
    limits: Mapping[str, int] = field(default_factory=dict)  # items shown per surface
    surfaces: tuple[str, ...] = SURFACES
    by_surface: bool = False  # built differently per surface (so cached apart)
    overlay: bool = False  # data for an overlay (the gong), not a panel of its own
    verbatim: bool = False  # shows customers' own words: left out where a link hides them
    skip_when_empty: bool = False  # the wall rotates past it while it says nothing happened
    follow_ups: bool = False  # shows the wall's follow-up line when a screen asks for it
    # The surfaces whose page draws the part from data itself (a store and assets/nps_tv.js
    # ``draw_<name>``: a small form of its own, or the wire form of html components), not as
    # Dash components: every component is walked several times in every Dash cycle (one per
    # change), and the feed's and the topic table's were four fifths of the wall's.
    drawn: tuple[str, ...] = ()
    # How the script draws it there (``draw_<drawer>``): ``tree``, the wire form of Dash's
    # html components; ``feed``, the comment feed's own form (``comments.build_feed``);
    # ``topics``, the topic table's (``topics.build_wall_table``); ``score``, the score
    # panel's (``score.build_wall_score``)
    drawer: str = "tree"
    # ``build`` gives the wire form (made with ``app.wire.TAGS``, or a figure of plain lists,
    # strings and finite numbers), kept by the part cache as it is: no Dash components made
    # and converted for every screen's part, no walk through a figure to convert it
    wire: bool = False

    def part_name(self, surface: str) -> str:
        """The part cache's name for this panel on a surface."""
        return f"{self.name}.{surface}" if self.by_surface else self.name

    def context(self, surface: str, theme: str, timezone: str,
                segment_fields: tuple[str, ...], profanity: Profanity | None = None,
                comments: bool = True, rest: bool = True,
                editable: bool = False,
                follow_ups: tuple[int, int] | None = None) -> PartContext:
        """The context this panel is built in on ``surface``; ``profanity`` is masked on the
        wall (a public room) only; ``comments`` False drops customers' words; ``rest`` False
        leaves out the comparison with responses outside the screen's segments; ``editable``
        (an admin on the manager page) offers corrections; ``follow_ups`` the wall's
        follow-up counts (the score panel shows them on the wall only)."""
        return PartContext(surface, theme, timezone, segment_fields, self.limits.get(surface),
                           profanity if surface == "wall" else None, comments, rest,
                           editable and surface == "manager",
                           follow_ups if surface == "wall" and self.follow_ups else None)


PANELS: tuple[Panel, ...] = (
    Panel("score", score.needs, score.build, title="Net Promoter Score", nav="Score",
          card_title="Score", follow_ups=True, by_surface=True, wire=True, drawn=("wall",),
          drawer="score"),
    Panel("trend", trend.needs, trend.build, title="NPS trend", nav="Trend",
          card_title="Trend", figure=True, wire=True),
    Panel("topics", topics.needs, topics.build, title="Topics", nav="Topics",
          card_title="Topics by effect on the score", limits={"wall": 8, "manager": 8},
          # the tone: a share on the wall, counts in the manager
          by_surface=True, wire=True, drawn=("wall",), drawer="topics"),
    Panel("comments", comments.needs, comments.build, title="What customers say",
          nav="Comments", card_title="Newest comments", limits={"wall": 20, "manager": 30},
          by_surface=True, verbatim=True, wire=True, drawn=("wall",), drawer="feed"),
    Panel("changes", changes.needs, changes.build, title="What changed", nav="Changes",
          card_title="What changed", skip_when_empty=True, wire=True),
)
# The newest response, which the wall's gong shows over whatever panel is on screen.
GONG = Panel("latest", gong.needs, gong.build, surfaces=("wall",), overlay=True)


def panels() -> tuple[Panel, ...]:
    """The panels, in their default order (read at call time, so tests can add one)."""
    return PANELS


def panel_names() -> tuple[str, ...]:
    """The panels' names, in their default order."""
    return tuple(panel.name for panel in PANELS)


def verbatim_names() -> tuple[str, ...]:
    """The panels that show customers' own words (hidden by a link without comments)."""
    return tuple(panel.name for panel in PANELS if panel.verbatim)


def parts(surface: str) -> tuple[Panel, ...]:
    """Everything a surface shows: its panels, then its overlays."""
    return tuple(p for p in (*PANELS, GONG) if surface in p.surfaces)


def find_part(part_name: str) -> tuple[Panel, str]:
    """The panel and surface of a part cache name; ValueError when there is none."""
    for panel in (*PANELS, GONG):
        for surface in panel.surfaces:
            if panel.part_name(surface) == part_name:
                return panel, surface
    raise ValueError(f"unknown part {part_name!r}")
