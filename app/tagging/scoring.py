"""Precision, recall and F1 of topic tags, per topic and averaged (micro and macro)."""

from __future__ import annotations

from collections.abc import Collection, Sequence

# topic -> (precision, recall, F1, support: comments that truly have the topic)
TopicScores = dict[str, tuple[float, float, float, int]]


def score_topics(truth: Sequence[Collection[str]], guess: Sequence[Collection[str]],
                 topics: Sequence[str]) -> TopicScores:
    """Per topic, precision, recall, F1 and support of ``guess`` against ``truth``."""
    scores: TopicScores = {}
    for topic in topics:
        hits = sum(topic in g and topic in t for t, g in zip(truth, guess, strict=True))
        guessed = sum(topic in g for g in guess)
        support = sum(topic in t for t in truth)
        scores[topic] = (_ratio(hits, guessed), _ratio(hits, support),
                         _ratio(2 * hits, guessed + support), support)
    return scores


def micro_macro(truth: Sequence[Collection[str]], guess: Sequence[Collection[str]],
                topics: Sequence[str]) -> tuple[float, float, float, float]:
    """(micro precision, micro recall, micro F1, macro F1 over topics with support)."""
    hits = guessed = support = 0
    for t, g in zip(truth, guess, strict=True):
        t_set, g_set = set(t) & set(topics), set(g) & set(topics)
        hits += len(t_set & g_set)
        guessed += len(g_set)
        support += len(t_set)
    per_topic = score_topics(truth, guess, topics)
    present = [f1 for _, _, f1, n in per_topic.values() if n]
    macro = sum(present) / len(present) if present else 0.0
    return (_ratio(hits, guessed), _ratio(hits, support), _ratio(2 * hits, guessed + support),
            macro)


def _ratio(numerator: int, denominator: int) -> float:
    return numerator / denominator if denominator else 0.0
