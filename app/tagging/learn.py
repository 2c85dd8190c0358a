"""Learning from a team's corrections: an installation model on top of the shipped one.

``learn(examples, settings)`` takes (comment, corrected topics) pairs, keeps a deterministic
part aside (by a hash of the comment, as the corpus split is made), fits one logistic regression
per topic on the rest, with the shipped tagger's margin as an extra input (``prior``: so a few
dozen corrections shift the shipped model rather than replace it), writes
``DATA_DIR/topic_model.local.json`` atomically and scores the current and the new tagger on
the part kept aside. The new model is used by every process opened after it is written.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from app.config import Settings
from app.tagging.model import save_model
from app.tagging.scoring import TopicScores, score_topics
from app.tagging.tagger import Tagger, load_tagger, local_model_path

HELD_OUT_PERCENT = 30  # of the examples, chosen by a hash of their text
LEARN_C = 1.0

Example = tuple[str, Collection[str]]


@dataclass(frozen=True)
class LearnReport:
    """What ``learn`` did: the figures on its held-out part before and after, and the file."""

    before: TopicScores
    after: TopicScores
    path: Path
    trained_on: int
    held_out: int
    topics: tuple[str, ...]  # the topics the installation model decides
    size: int  # bytes written


def is_held_out(text: str) -> bool:
    """Whether ``learn`` keeps this comment aside to score on (fixed by the text alone)."""
    digest = hashlib.sha256(text.strip().casefold().encode("utf-8")).hexdigest()
    return int(digest, 16) % 100 < HELD_OUT_PERCENT


def learn(examples: Sequence[Example], settings: Settings) -> LearnReport:
    """Train the installation model from corrected examples; see the module docstring."""
    current = load_tagger(settings)
    cleaned = _check_examples(examples, current.topics)
    train = [e for e in cleaned if not is_held_out(e[0])]
    held = [e for e in cleaned if is_held_out(e[0])]
    if not train:
        raise ValueError("learn: every example was held out to score on; give more examples")
    base = current.without_local()
    topics = [t for t in current.topics if any(t in labels for _, labels in train)]
    if not topics:
        raise ValueError("learn: no example names a topic of the taxonomy")
    from app.tagging.train import fit_model  # scikit-learn is needed here only

    texts = [text for text, _ in train]
    features = [base.extractor.extract(text).features for text in texts]
    prior = np.array(base.base_prior(texts, topics), dtype=np.float64)
    model = fit_model(features, [labels for _, labels in train], topics, LEARN_C, prior=prior,
                      meta={"trained_on": len(train), "kind": "local", "C": LEARN_C})
    path = local_model_path(settings)
    size = save_model(model, path)
    after = Tagger(current.taxonomy, current.model, model)
    return LearnReport(before=_score(current, held), after=_score(after, held), path=path,
                       trained_on=len(train), held_out=len(held), topics=tuple(topics),
                       size=size)


def _check_examples(examples: Sequence[Example], topics: Sequence[str]) -> list[Example]:
    """Examples with text, their topics checked against the taxonomy (ValueError if not)."""
    known = set(topics)
    cleaned: list[Example] = []
    for number, (text, labels) in enumerate(examples, start=1):
        unknown = sorted(set(labels) - known)
        if unknown:
            raise ValueError(f"learn: example #{number} names topics not in the taxonomy: "
                             f"{', '.join(unknown)}")
        if text and text.strip():
            cleaned.append((text, frozenset(labels)))
    if not cleaned:
        raise ValueError("learn: no example has a comment")
    return cleaned


def _score(tagger: Tagger, held: Sequence[Example]) -> TopicScores:
    guesses = [tagger.tag(text) for text, _ in held]
    return score_topics([labels for _, labels in held], guesses, tagger.topics)
