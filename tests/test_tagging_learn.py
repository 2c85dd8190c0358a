"""Learning from a team's corrections (app.tagging.learn)."""

from __future__ import annotations

import json

import pytest

from app.tagging import LearnReport, learn, load_tagger, local_model_path
from app.tagging.learn import is_held_out
from app.tagging.model import load_model

# A team's own word: "the zorblax" is their name for the first-run wizard (Onboarding), which
# no shipped rule or keyword knows.
OPENINGS = ("the zorblax", "that zorblax thing", "zorblax", "our zorblax flow",
            "the new zorblax")
ENDINGS = ("was a pain", "took ages", "confused our interns", "is great", "went fine",
           "needs work", "was smooth", "lost my settings", "was quick", "made sense")
OTHER = ("nice colours", "love the icons", "the font is pretty", "good vibes overall",
         "happy with it", "fine overall", "the logo is cute", "meh", "solid product",
         "would recommend to friends")


def corrections() -> list[tuple[str, list[str]]]:
    """Zorblax comments labelled Onboarding, and topic-less ones, all distinct."""
    examples = [(f"{opening} {ending}", ["Onboarding"])
                for opening in OPENINGS for ending in ENDINGS]
    examples += [(f"{text} {n}", []) for text in OTHER for n in range(3)]
    return examples


@pytest.fixture
def report(settings) -> LearnReport:
    return learn(corrections(), settings)


def test_learning_from_corrections_improves_their_held_out_part(report: LearnReport) -> None:
    assert report.held_out > 10 and report.trained_on > 40
    assert report.trained_on + report.held_out == len(corrections())
    before, after = report.before["Onboarding"], report.after["Onboarding"]
    assert before[3] == after[3] > 0  # the same held-out examples, scored twice
    assert after[2] > before[2] + 0.5
    assert after[2] >= 0.9
    assert "Onboarding" in report.topics


def test_the_installation_model_is_written_and_loaded(report: LearnReport, settings) -> None:
    assert report.path == local_model_path(settings) and report.path.is_file()
    assert report.size == report.path.stat().st_size
    assert json.loads(report.path.read_text())["prior"] is not None
    assert load_model(report.path).topics == report.topics
    tagger = load_tagger(settings)
    assert tagger.local is not None
    assert "Onboarding" in tagger.tag("the zorblax was confusing")
    # what the corrections did not touch still comes from the shipped model
    assert "Reliability" in tagger.tag("It crashes every time I open it")
    assert "Onboarding" not in tagger.without_local().tag("the zorblax was confusing")


def test_the_held_out_part_is_fixed_by_the_text() -> None:
    texts = [text for text, _ in corrections()]
    assert [is_held_out(t) for t in texts] == [is_held_out(t) for t in texts]
    assert 0.15 < sum(map(is_held_out, texts)) / len(texts) < 0.45


@pytest.mark.parametrize(("examples", "problem"), [
    ([("fine", ["Nope"])], "not in the taxonomy: Nope"),
    ([("", ["Pricing"])], "no example has a comment"),
])
def test_learn_refuses_examples_it_cannot_use(settings, examples, problem) -> None:
    with pytest.raises(ValueError, match=problem):
        learn(examples, settings)
    assert not local_model_path(settings).exists()


def test_learn_teaches_a_team_topic_beyond_its_keywords(tmp_path, settings) -> None:
    taxonomy = json.loads((settings.resolved_topics_file).read_text())
    taxonomy["topics"].append({"name": "Shipping", "keywords": ["courier*", "delivery"]})
    path = tmp_path / "team.json"
    path.write_text(json.dumps(taxonomy))
    team = settings.replace(topics_file=str(path))
    boxes = [f"the box arrived {how} {when}" for how in ("crushed", "wet", "late", "open", "torn")
             for when in ("today", "again", "twice", "last week", "on monday", "this time")]
    others = [f"{text} {n}" for text in OTHER for n in range(3)]
    report = learn([(t, ["Shipping"]) for t in boxes] + [(t, []) for t in others], team)
    assert report.after["Shipping"][2] > report.before["Shipping"][2]
    tagger = load_tagger(team)
    assert "Shipping" in tagger.tag("the box arrived dented")
    assert "Shipping" in tagger.tag("the courier was rude")  # its keywords still count
