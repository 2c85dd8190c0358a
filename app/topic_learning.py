"""The correction loop's figures and training: how well the current tagger agrees with the
admins' corrections (``nps-tv topics report``), training on them (``nps-tv topics learn``) and
the fingerprint a retag is keyed by (``nps-tv topics retag``).

Training goes through ONE import site, :func:`learn_from`, which uses ``app.tagging.learn``
(the per-installation model: ``learn(examples, settings) -> LearnReport`` writing
``DATA_DIR/topic_model.local.json``). Until that package is merged into this branch, a minimal
learner of our own stands in (:func:`fallback_learn`): it learns words that signal a topic the
tagger missed, or a topic it tags wrongly, and reports before/after on a held-out part of the
corrections in the same shape. It goes away with the merge; nothing else imports it.
"""

from __future__ import annotations

import hashlib
import json
import re
import zlib
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.config import Settings
from app.topics import fold_text

MODEL_FILE = "topic_model.local.json"
HELD_OUT_EVERY = 4  # one example in four (by a hash of its text) is held out for the figures
MIN_SUPPORT = 2  # a learned word must be seen on at least this many training comments
MIN_PRECISION = 0.75  # ... and point the right way this often
_WORD = re.compile(r"\w+")

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
        """(precision, recall, f1, support), as ``LearnReport`` carries them."""
        return (self.precision, self.recall, self.f1, self.support)


@dataclass(frozen=True)
class LearnReport:
    """What a training did: scores per topic before/after on the held-out examples."""

    before: dict[str, tuple[float, float, float, int]]
    after: dict[str, tuple[float, float, float, int]]
    path: Path
    trained_on: int
    held_out: int = 0
    notes: list[str] = field(default_factory=list)


def score_topics(pairs: Iterable[tuple[Collection[str], Collection[str]]]
                 ) -> tuple[dict[str, TopicScore], TopicScore]:
    """Per-topic and micro scores of (predicted, true) topic sets."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    for predicted, true in pairs:
        predicted, true = set(predicted), set(true)
        tp.update(predicted & true)
        fp.update(predicted - true)
        fn.update(true - predicted)
    topics = sorted(set(tp) | set(fp) | set(fn))
    per_topic = {t: _score(tp[t], fp[t], fn[t]) for t in topics}
    micro = _score(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    return per_topic, micro


def _score(tp: int, fp: int, fn: int) -> TopicScore:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return TopicScore(precision, recall, f1, tp + fn)


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
    """What a retag is keyed by: the taxonomy file and the installation's model, if any."""
    digest = hashlib.sha256()
    for path in (Path(settings.resolved_topics_file), Path(settings.data_dir) / MODEL_FILE):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"(none)")
    return digest.hexdigest()


def split_held_out(examples: Sequence[Example]) -> tuple[list[Example], list[Example]]:
    """(training, held out): one in ``HELD_OUT_EVERY`` by a stable hash of the text."""
    train, held = [], []
    for text, truth in examples:
        bucket = zlib.crc32(text.encode("utf-8")) % HELD_OUT_EVERY
        (held if bucket == 0 else train).append((text, truth))
    return train, held


def learn_from(examples: Sequence[Example], settings: Settings, base: Tagger) -> Any:
    """Train the installation's tagger on ``examples`` (text, the admin's topics): the ONE
    import site of ``app.tagging.learn``; the stand-in learner until that is merged."""
    try:
        from app.tagging import learn  # type: ignore[import-not-found]
    except ImportError:
        return fallback_learn(examples, settings, base)
    return learn(examples, settings)


def fallback_learn(examples: Sequence[Example], settings: Settings,
                   base: Tagger) -> LearnReport:
    """Stand-in learner (until ``app.tagging`` is merged): words that signal a missed topic
    or a wrongly tagged one, learned on the training part, scored on the held-out part."""
    train, held = split_held_out(examples)
    model = _learn_words(train, base)
    path = Path(settings.data_dir) / MODEL_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"format": "nps-tv-fallback-1", **model}, indent=1,
                               sort_keys=True), encoding="utf-8")
    learned = apply_words(base, model)
    before, _ = report(base, held)
    after, _ = report(learned, held)
    return LearnReport({t: s.as_tuple() for t, s in before.items()},
                       {t: s.as_tuple() for t, s in after.items()}, path, len(train),
                       len(held))


def _words(text: str | None) -> set[str]:
    return set(_WORD.findall(fold_text(text or "")))


def _learn_words(train: Sequence[Example], base: Tagger) -> dict[str, dict[str, list[str]]]:
    """Per topic: words that add it (seen mostly where the admin added it) and words that
    remove it (seen mostly where the admin removed the tagger's topic)."""
    add_hits: dict[str, Counter[str]] = {}
    remove_hits: dict[str, Counter[str]] = {}
    seen: Counter[str] = Counter()
    for text, truth in train:
        words = _words(text)
        seen.update(words)
        tagged = set(base(text))
        for topic in set(truth) - tagged:
            add_hits.setdefault(topic, Counter()).update(words)
        for topic in tagged - set(truth):
            remove_hits.setdefault(topic, Counter()).update(words)

    def strong(hits: dict[str, Counter[str]]) -> dict[str, list[str]]:
        return {topic: sorted(w for w, n in counts.items()
                              if n >= MIN_SUPPORT and n / seen[w] >= MIN_PRECISION)
                for topic, counts in sorted(hits.items())}

    return {"add": strong(add_hits), "remove": strong(remove_hits)}


def apply_words(base: Tagger, model: dict[str, dict[str, list[str]]]) -> Tagger:
    """The base tagger with learned words adding and removing topics."""
    adds = {t: set(ws) for t, ws in model.get("add", {}).items() if ws}
    removes = {t: set(ws) for t, ws in model.get("remove", {}).items() if ws}

    def tag(text: str | None) -> list[str]:
        words = _words(text)
        topics = [t for t in base(text) if not removes.get(t, set()) & words]
        return topics + [t for t, ws in adds.items() if ws & words and t not in topics]

    return tag
