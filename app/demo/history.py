"""A believable demo history, and the live trickle that keeps the demo wall moving.

The story the trend tells: a steady product, a price change that costs goodwill for a
couple of weeks, and a release that wins it back. Older events sit further back.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.demo.corpus import COMMENTS
from app.store import ResponseRecord, Store

SOURCE = "demo"
PRODUCTS = ("Ledger", "Pulse", "Atlas", "Relay")
PRODUCT_WEIGHTS = (0.35, 0.25, 0.25, 0.15)
REGIONS = ("North America", "EMEA", "APAC", "LATAM")
REGION_WEIGHTS = (0.4, 0.33, 0.17, 0.1)
PLANS = ("Starter", "Team", "Enterprise")
PLAN_WEIGHTS = (0.45, 0.38, 0.17)
# Baseline (promoter, passive, detractor) shares per product: Atlas is loved, Relay struggles.
PRODUCT_MIX = {
    "Ledger": (0.55, 0.27, 0.18),
    "Pulse": (0.50, 0.28, 0.22),
    "Atlas": (0.62, 0.24, 0.14),
    "Relay": (0.38, 0.30, 0.32),
}
COMMENT_RATE = 0.5  # share of responses that leave a comment


@dataclass(frozen=True)
class DemoEvent:
    """An event of the demo story, placed ``days_ago`` before now."""

    days_ago: float
    label: str
    kind: str
    note: str


EVENTS = (
    DemoEvent(150, "Mobile app 1.0", "launch", "First release of the mobile app."),
    DemoEvent(96, "Support hours extended", "support", "Live chat now covers APAC hours."),
    DemoEvent(61, "Outage: EU data centre", "outage", "Four hours of degraded service in EMEA."),
    DemoEvent(25, "Price change", "pricing", "List prices up 15% on Team and Enterprise."),
    DemoEvent(11, "Atlas 3.0 released", "release", "Dashboards rebuilt; load times cut by 70%."),
)


def story_shift(days_ago: float, region: str) -> float:
    """How much the detractor share moves on a given day (negative = happier customers)."""
    shift = 0.0
    if 25 >= days_ago > 11:  # the price change bites, then fades as people adjust
        shift += 0.16 * math.exp(-(25 - days_ago) / 12)
    if days_ago <= 11:  # the release wins people back, and a bit more
        lingering = 0.10 * math.exp(-(25 - days_ago) / 12)
        shift += lingering - 0.08 * (1 - math.exp(-(11 - days_ago) / 3))
    if 61 >= days_ago > 55 and region == "EMEA":
        shift += 0.25
    return shift


def _weighted(rng: random.Random, values: Sequence[str], weights: Sequence[float]) -> str:
    return rng.choices(values, weights=weights, k=1)[0]


def draw_response(rng: random.Random, when: datetime, days_ago: float,
                  number: int) -> ResponseRecord:
    """One plausible response at ``when``."""
    product = _weighted(rng, PRODUCTS, PRODUCT_WEIGHTS)
    region = _weighted(rng, REGIONS, REGION_WEIGHTS)
    plan = _weighted(rng, PLANS, PLAN_WEIGHTS)
    promoter, passive, detractor = PRODUCT_MIX[product]
    shift = story_shift(days_ago, region)
    detractor = min(max(detractor + shift, 0.03), 0.9)
    promoter = max(promoter - shift * 0.8, 0.05)
    roll = rng.random() * (promoter + passive + detractor)
    if roll < promoter:
        tone, score = "promoter", rng.choices((9, 10), weights=(0.45, 0.55))[0]
    elif roll < promoter + passive:
        tone, score = "passive", rng.choice((7, 8))
    else:
        tone, score = "detractor", rng.choices(range(7), weights=(3, 1, 2, 3, 4, 6, 8))[0]
    comment = None
    if rng.random() < COMMENT_RATE:
        comment = pick_comment(rng, tone, days_ago)
    return ResponseRecord(
        source=SOURCE, external_id=f"demo-{number}", score=score, created_at=when,
        comment=comment, segments={"product": product, "region": region, "plan": plan})


def pick_comment(rng: random.Random, tone: str, days_ago: float) -> str:
    """A comment of the right tone; story comments only after their event."""
    story = None
    if 25 >= days_ago > 11 and tone != "promoter" and rng.random() < 0.5:
        story = "price_change"
    elif days_ago <= 11 and tone != "detractor" and rng.random() < 0.4:
        story = "release"
    pool = [c for c in COMMENTS if c.tone == tone and c.story == story]
    if not pool:
        pool = [c for c in COMMENTS if c.tone == tone and c.story is None]
    return rng.choice(pool).text


def build_demo_history(store: Store, days: int = 180, seed: int = 7,
                       now: datetime | None = None) -> int:
    """Write ``days`` of responses and the story's events; returns the responses written."""
    rng = random.Random(seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    records: list[ResponseRecord] = []
    number = 0
    for day in range(days, -1, -1):
        date = (now - timedelta(days=day)).date()
        weekday = date.weekday()
        volume = rng.randint(28, 44) if weekday < 5 else rng.randint(6, 14)
        for _ in range(volume):
            # Office-hours skew: most answers arrive between 08:00 and 19:00 UTC.
            seconds = int(rng.triangular(6 * 3600, 21 * 3600, 13 * 3600))
            when = datetime(date.year, date.month, date.day, tzinfo=UTC) + timedelta(
                seconds=seconds)
            if when > now:
                continue
            days_ago = (now - when).total_seconds() / 86400
            number += 1
            records.append(draw_response(rng, when, days_ago, number))
    for start in range(0, len(records), 2000):
        store.upsert_responses(records[start:start + 2000])
    for event in EVENTS:
        store.add_event(now - timedelta(days=event.days_ago), event.label, event.kind, event.note)
    return len(records)


class LiveFeed:
    """Adds one fresh response at a time."""

    def __init__(self, store: Store, seed: int | None = None):
        self.store = store
        # The history is repeatable; the live trickle differs on every run, so a restarted
        # demo does not replay the same "new" comments.
        self.rng = random.Random(seed)

    def add_one(self, now: datetime | None = None) -> ResponseRecord:
        """Write one response dated now and return it."""
        now = now or datetime.now(UTC)
        # Milliseconds since the epoch: unique across restarts of the demo.
        record = draw_response(self.rng, now, 0.0, int(now.timestamp() * 1000))
        self.store.upsert_responses([record])
        return record
