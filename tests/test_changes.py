""""What changed": sentences only for significant changes above a minimum count, ranked by
effect, in fixed words, with names masked. Expected figures are worked by hand beside them."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

import numpy as np
import pytest

from app.changes import (
    MAX_SENTENCES,
    Minimums,
    SegmentCounts,
    describe_period,
    find_changes,
)
from app.changes import (
    _describe_ratio as describe_ratio,
)
from app.metrics import build_topic_table, summarize

# The README's worked examples: 1,000 responses a window.
REAL_NOW, REAL_BEFORE = (500, 300, 200), (400, 300, 300)  # 10 -> 30, SE 3.61, noise 7.07
NOISE_NOW, NOISE_BEFORE = (450, 360, 190), (470, 350, 180)  # 29 -> 26, SE 3.37, noise 6.61


DEFAULT = Minimums()


def changes(now, before, *, topics=(), segments=None, window="30d", minimums=DEFAULT,
            events=()):
    current, previous = summarize(now, 5), summarize(before, 5)
    rows = build_topic_table([t[0] for t in topics], [t[1] for t in topics],
                             [t[2] for t in topics], current, 5)
    return find_changes(current, previous, rows, segments, window, minimums, events)


def event(label, day):
    return SimpleNamespace(label=label, occurred_at=datetime(2026, 11, day, 9, tzinfo=UTC))


def segment_counts(values: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]],
                   field: str = "region", pinned=frozenset()) -> SegmentCounts:
    combos = [{field: v} for v in values]
    return SegmentCounts(combos, np.array([c for c, _ in values.values()]),
                         np.array([p for _, p in values.values()]), frozenset(pinned))


def test_a_significant_overall_change_is_one_sentence_in_fixed_words():
    found = changes(REAL_NOW, REAL_BEFORE)
    assert [f.text for f in found] == ["NPS up 20 over 30 days (± 7.1)"]
    assert (found[0].kind, found[0].direction, found[0].tone) == ("overall", "up", "good")
    assert found[0].effect == pytest.approx(20.0)
    # The same data gives the same sentence.
    assert changes(REAL_NOW, REAL_BEFORE) == found


def test_a_change_within_noise_says_nothing():
    assert changes(NOISE_NOW, NOISE_BEFORE) == ()


def test_nothing_without_a_previous_window():
    assert find_changes(summarize(REAL_NOW, 5), None, (), None, "all") == ()


def test_a_minimum_count_guards_even_a_certain_looking_change():
    # 29 promoters against 29 detractors: SE 0, "significant", but under 30 a window.
    assert changes((29, 0, 0), (0, 0, 29)) == ()
    assert [f.text for f in changes((30, 0, 0), (0, 0, 30))] == \
        ["NPS up 200 over 30 days (± 0.0)"]


def test_a_segment_sentence_names_the_segment_and_its_noise():
    # EMEA: 100 answers at 50/30/20 (NPS 30) against 100 at 20/30/50 (NPS -30): delta 60,
    # Var = 100 * (0.7 - 0.09) = 61 each side, SE = sqrt(122) = 11.05, noise 21.65.
    # Its effect on the whole score: 100 of 1,000 answers x 60 = 6 points.
    segments = segment_counts({"EMEA": ((50, 30, 20), (20, 30, 50)),
                               "APAC": ((450, 330, 120), (430, 330, 140))})
    found = changes((500, 360, 140), (450, 360, 190), segments=segments)
    emea = next(f for f in found if f.kind == "segment")
    assert emea.text == "NPS in EMEA up 60 over 30 days (± 21.6)"
    assert emea.effect == pytest.approx(0.1 * 60)
    assert "APAC" not in " ".join(f.text for f in found)  # 31 -> 34 on 900: noise


def test_segments_pinned_by_the_filter_other_and_the_whole_view_are_left_out():
    only = segment_counts({"EMEA": (REAL_NOW, REAL_BEFORE)})
    assert [f.kind for f in changes(REAL_NOW, REAL_BEFORE, segments=only)] == ["overall"]
    two = {"EMEA": ((50, 30, 20), (20, 30, 50)), "Other": ((50, 30, 20), (20, 30, 50))}
    now, before = (100, 60, 40), (40, 60, 100)
    assert {f.subject for f in changes(now, before, segments=segment_counts(two))} == \
        {"", "EMEA"}
    pinned = segment_counts(two, pinned={"region"})
    assert [f.kind for f in changes(now, before, segments=pinned)] == ["overall"]


def test_complaints_doubled_by_hand():
    # Pricing detractor mentions 22 -> 45 of 1,000 answers: rates 0.022 -> 0.045,
    # SE = sqrt(0.022 * 0.978 / 1000 + 0.045 * 0.955 / 1000) = 0.00803, 1.96 SE = 0.0157 < 0.023.
    topics = [("Pricing", (5, 5, 45), (5, 5, 22))]
    found = changes(NOISE_NOW, NOISE_NOW, topics=topics)
    assert [f.text for f in found] == \
        ["Pricing complaints doubled over 30 days (22 → 45 detractor mentions)"]
    assert (found[0].direction, found[0].tone) == ("up", "bad")
    assert found[0].effect == pytest.approx(-2.3)


def test_complaints_under_the_minimum_or_within_noise_say_nothing():
    assert changes(NOISE_NOW, NOISE_NOW, topics=[("Pricing", (5, 5, 9), (5, 5, 4))]) == ()
    assert changes(NOISE_NOW, NOISE_NOW, topics=[("Pricing", (5, 5, 30), (5, 5, 22))]) == ()


def test_a_topic_score_sentence():
    # Support: 100 mentions at 60/30/10 (NPS 50) against 100 at 30/30/40 (NPS -10): delta 60,
    # Var = 100 * (0.7 - 0.25) = 45 and 100 * (0.7 - 0.01) = 69, SE = 10.68, noise 20.9.
    topics = [("Support", (60, 30, 10), (30, 30, 40))]
    texts = [f.text for f in changes(NOISE_NOW, NOISE_NOW, topics=topics)]
    assert "NPS among Support mentions up 60 over 30 days (± 20.9)" in texts
    assert "Support complaints fell by 75% over 30 days (40 → 10 detractor mentions)" in texts


def test_at_most_three_ranked_by_effect_on_the_score():
    segments = segment_counts({
        # Effect = the segment's share of this window's 900 answers x its delta of 60.
        "EMEA": ((50, 30, 20), (20, 30, 50)),  # 100 / 900 x 60 = 6.7 points
        "APAC": ((100, 60, 40), (40, 60, 100)),  # 200 / 900 x 60 = 13.3
        "LATAM": ((150, 90, 60), (60, 90, 150)),  # 300 / 900 x 60 = 20
        "NA": ((150, 90, 60), (150, 90, 60))})  # no change
    found = changes((450, 270, 180), (270, 270, 360), segments=segments)  # -10 -> 30
    assert len(found) == MAX_SENTENCES
    assert [f.subject for f in found] == ["", "LATAM", "APAC"]  # overall 40 points first
    assert [f.effect for f in found] == pytest.approx([40, 20, 40 / 3])


def test_names_in_sentences_are_masked_and_cut():
    segments = segment_counts({"mail bob@example.com": ((50, 30, 20), (20, 30, 50)),
                               "rest": ((450, 330, 120), (430, 330, 140))})
    found = changes((500, 360, 140), (450, 360, 190), segments=segments)
    text = " ".join(f.text for f in found)
    assert "bob@example.com" not in text and "[email]" in text
    topics = [("x" * 200, (5, 5, 45), (5, 5, 22))]
    (finding,) = changes(NOISE_NOW, NOISE_NOW, topics=topics)
    assert len(finding.subject) <= 40 and finding.subject.endswith("…")


@pytest.mark.parametrize(("before", "now", "words"),
                         [(22, 45, "doubled"), (10, 30, "tripled"), (40, 20, "fell by half"),
                          (10, 14, "rose by 40%"), (20, 13, "fell by 35%"), (0, 12, "appeared"),
                          (10, 34, "rose by 240%"), (1, 15, "rose 15-fold"),
                          (3, 12, "rose 4-fold")])
def test_ratio_words(before, now, words):
    assert describe_ratio(before, now) == words


@pytest.mark.parametrize(("window", "phrase"),
                         [("30d", "over 30 days"), ("1d", "since the day before"),
                          ("range", "against the period before")])
def test_period_words(window, phrase):
    assert describe_period(window) == phrase


def test_a_sentence_never_shows_a_change_smaller_than_its_noise():
    # 1,000 answers each: 300/396/304 (NPS -0.4, shown 0) -> 332/400/268 (NPS 6.4, shown 6).
    # Var1 = 10 * (0.604 - 0.004^2) = 6.0398, Var2 = 10 * (0.6 - 0.064^2) = 5.9590,
    # SE = 3.4639, noise 6.789. The exact delta 6.8 passes, the shown 6 does not: no sentence.
    assert changes((332, 400, 268), (300, 396, 304)) == ()
    # One more promoter instead of a detractor: NPS 6.6 (shown 7), 7 > 6.8: told.
    assert [f.text for f in changes((333, 400, 267), (300, 396, 304))] == \
        ["NPS up 7 over 30 days (± 6.8)"]


def test_a_sentence_names_the_one_event_in_the_window():
    topics = [("Pricing", (5, 5, 45), (5, 5, 22))]
    found = changes(NOISE_NOW, NOISE_NOW, topics=topics, events=[event("Price change", 3)])
    assert [f.text for f in found] == \
        ["Pricing complaints doubled since \u201cPrice change\u201d (22 → 45 detractor mentions)"]
    found = changes(REAL_NOW, REAL_BEFORE, events=[event("Price change", 3)])
    assert [f.text for f in found] == ["NPS up 20 since \u201cPrice change\u201d (± 7.1)"]
    # With several, which one a whole-window change followed is unknown: none is named.
    several = [event("Price change", 3), event("Release 4.2", 20)]
    assert [f.text for f in changes(REAL_NOW, REAL_BEFORE, events=several)] == \
        ["NPS up 20 over 30 days (± 7.1)"]


def test_an_event_label_in_a_sentence_is_masked_and_cut():
    found = changes(REAL_NOW, REAL_BEFORE, events=[event("call bob@example.com " + "x" * 80, 3)])
    (text,) = [f.text for f in found]
    assert "bob@example.com" not in text and "[email]" in text
    assert text.startswith("NPS up 20 since \u201c") and "…\u201d (± 7.1)" in text
    # A label with nothing left to show falls back to the window's length.
    assert [f.text for f in changes(REAL_NOW, REAL_BEFORE, events=[event("\u200b", 3)])] == \
        ["NPS up 20 over 30 days (± 7.1)"]


def test_the_minimums_are_settings_not_constants():
    # 20 a window: under the default 30 nothing is told; with 20 allowed it is.
    assert changes((20, 0, 0), (0, 0, 20)) == ()
    assert [f.text for f in changes((20, 0, 0), (0, 0, 20), minimums=Minimums(20, 10))] == \
        ["NPS up 200 over 30 days (± 0.0)"]
    # 22 -> 45 detractor mentions: told at the default 10, silent when 50 are required.
    topics = [("Pricing", (5, 5, 45), (5, 5, 22))]
    assert changes(NOISE_NOW, NOISE_NOW, topics=topics)
    assert changes(NOISE_NOW, NOISE_NOW, topics=topics, minimums=Minimums(30, 50)) == ()


def test_the_minimum_settings_are_read_and_checked():
    from app.config import Settings

    settings = Settings.from_env({"NPS_TV_CHANGE_MIN_RESPONSES": "50",
                                  "NPS_TV_CHANGE_MIN_MENTIONS": "4"})
    assert (settings.change_min_responses, settings.change_min_mentions) == (50, 4)
    with pytest.raises(ValueError, match="NPS_TV_CHANGE_MIN_MENTIONS: must be a whole number "
                                         "of at least 1, got 0"):
        Settings.from_env({"NPS_TV_CHANGE_MIN_MENTIONS": "0"})


def test_a_sentence_found_again_for_other_totals_is_weighed_by_its_share_of_them():
    """The test and the sentence of a segment value or a topic are kept by their own counts
    (a response leaves most of a view's values alone); the effect is weighed by each call's
    share of the view, so a value whose counts stayed while the view grew pulls less."""
    segments = segment_counts({"EMEA": ((50, 30, 20), (20, 30, 50)),
                               "APAC": ((450, 330, 120), (430, 330, 140))})
    topics = [("Pricing", (60, 20, 20), (20, 20, 60))]
    before = (450, 360, 190)
    for now, n in (((500, 360, 140), 1000), ((1000, 720, 280), 2000),
                   ((500, 360, 140), 1000)):
        emea = next(f for f in changes(now, before, segments=segments) if f.kind == "segment")
        assert emea.effect == pytest.approx(100 / n * 60)
        assert emea.text == "NPS in EMEA up 60 over 30 days (± 21.6)"
        pricing = next(f for f in changes(now, before, topics=topics) if f.kind == "topic")
        assert pricing.effect == pytest.approx(100 / n * 80)
        assert pricing.text == "NPS among Pricing mentions up 80 over 30 days (± 22.2)"
