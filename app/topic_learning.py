"""The correction loop's figures and training: how well the current tagger agrees with the
admins' corrections (``nps-tv topics report``), training on them (``nps-tv topics learn``) and
the fingerprint a retag is keyed by (``nps-tv topics retag``).

Training goes through ONE import site, :func:`learn_from`, which uses ``app.tagging.learn``
(the per-installation model: ``learn(examples, settings) -> LearnReport`` writing
``DATA_DIR/topic_model.local.json``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import SHIPPED_MODEL_FILE, Settings
from app.tagging import local_model_path, scoring

Tagger = Callable[[str | None], Iterable[str]]
Example = tuple[str, Collection[str]]


@dataclass(frozen=True)
class TopicScore:
    """Precision, recall and F1 of one topic (or all: micro), and how many comments have it."""

    precision: float
    recall: float
    f1: float
    support: int

    def as_tuple(self) -> tuple[float, float, float, int]:
        """(precision, recall, f1, support), as ``app.tagging.LearnReport`` carries them."""
        return (self.precision, self.recall, self.f1, self.support)


def score_topics(pairs: Iterable[tuple[Collection[str], Collection[str]]]
                 ) -> tuple[dict[str, TopicScore], TopicScore]:
    """Per-topic and micro scores of (predicted, true) topic sets, computed by
    ``app.tagging.scoring`` (the benchmark's and ``learn``'s figures) over the topics seen."""
    pairs = list(pairs)
    guess = [set(predicted) for predicted, _ in pairs]
    truth = [set(true) for _, true in pairs]
    topics = sorted(set().union(*guess, *truth))
    per_topic = {t: TopicScore(*scores) for t, scores in
                 scoring.score_topics(truth, guess, topics).items()}
    precision, recall, f1, _macro = scoring.micro_macro(truth, guess, topics)
    return per_topic, TopicScore(precision, recall, f1, sum(len(t) for t in truth))


def report(tagger: Tagger, examples: Sequence[Example]
           ) -> tuple[dict[str, TopicScore], TopicScore]:
    """How the tagger scores against the admins' topics of the corrected comments."""
    return score_topics((list(tagger(text)), truth) for text, truth in examples)


def format_scores(per_topic: dict[str, TopicScore], micro: TopicScore | None = None
                  ) -> list[str]:
    """The report as aligned lines of text (the micro line last, when given)."""
    width = max([len(t) for t in per_topic] + [len("all (micro)")])
    lines = [f"{'topic':<{width}}  precision  recall     F1  support"]
    rows = [*per_topic.items(), *([("all (micro)", micro)] if micro is not None else [])]
    for name, s in rows:
        lines.append(f"{name:<{width}}  {s.precision:9.2f}  {s.recall:6.2f}  {s.f1:5.2f}"
                     f"  {s.support:7d}")
    return lines


def tagging_fingerprint(settings: Settings) -> str:
    """What a retag is keyed by: the taxonomy file, the shipped model (a new release may
    bring another) and the installation's model, if any."""
    digest = hashlib.sha256()
    for path in (Path(settings.resolved_topics_file), SHIPPED_MODEL_FILE,
                 local_model_path(settings)):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(none)")
    return digest.hexdigest()


def learn_from(examples: Sequence[Example], settings: Settings, base: Tagger) -> Any:
    """Train the installation's tagger on ``examples`` (text, the admin's topics) with
    ``app.tagging.learn``, which writes ``DATA_DIR/topic_model.local.json`` and reports
    before/after on a held-out part of the examples. ``base`` is the tagger in use (the
    report's "before"; ``learn`` loads the same one from the settings)."""
    from app.tagging import learn

    del base
    return learn(examples, settings)
