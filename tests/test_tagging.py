"""The topic tagger (app.tagging): its contract, the normalisation and rules the issue names,
custom topics by keywords, the model's JSON file, and where the store meets it."""

from __future__ import annotations

import json
import pickle
import threading
from pathlib import Path

import pytest

from app.config import SHIPPED_DATA_FILES, SHIPPED_MODEL_FILE, SHIPPED_TOPICS_FILE
from app.store import open_store
from app.tagging import Tagger, load_tagger
from app.tagging.model import LinearModel, load_model, model_from_json, save_model
from app.tagging.rules import Rules
from app.tagging.text import MONEY_TOKEN, normalise
from app.topics import build_taxonomy, load_taxonomy

SHIPPED_TAXONOMY = json.loads(SHIPPED_TOPICS_FILE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def shipped() -> Tagger:
    return Tagger(load_taxonomy(SHIPPED_TOPICS_FILE), load_model(SHIPPED_MODEL_FILE))


@pytest.fixture(scope="module")
def rules() -> Rules:
    return Rules()


def test_the_tagger_answers_in_taxonomy_order_and_empty_for_no_text(shipped: Tagger) -> None:
    assert shipped.topics == tuple(t["name"] for t in SHIPPED_TAXONOMY["topics"])
    assert shipped.tag(None) == [] and shipped.tag("") == [] and shipped.tag("  \n") == []
    found = shipped.tag("Too expensive, it crashes constantly and support never replied")
    assert found == sorted(found, key=shipped.topics.index)
    assert {"Pricing", "Reliability", "Support"} <= set(found)


@pytest.mark.parametrize(("text", "lemmas"), [
    ("It keeps stopping", ("it", "keep", "stop")),
    ("Crashes, freezes and buffers", ("crash", "freeze", "and", "buffer")),
    ("libraries and packages", ("library", "and", "package")),
])
def test_normalisation_reduces_words_to_lemmas(text: str, lemmas: tuple[str, ...]) -> None:
    assert normalise(text).lemmas == lemmas


@pytest.mark.parametrize(("text", "expanded"), [
    ("It won't open", "it will not open"),
    ("it wont open", "it will not open"),
    ("I can\u2019t log in", "i can not log in"),
    ("doesn't work", "does not work"),
])
def test_contractions_are_written_out(text: str, expanded: str) -> None:
    assert normalise(text).text == expanded


@pytest.mark.parametrize("text", ["$10 a month", "10$ per month", "\u20ac4.99", "5 dollars"])
def test_amounts_of_money_become_one_token(text: str) -> None:
    assert MONEY_TOKEN in normalise(text).lemmas


def test_negation_marks_the_words_after_it_within_the_clause() -> None:
    result = normalise("Not slow at all, but no complaints. Fast")
    marked = dict(zip(result.lemmas, result.negated, strict=True))
    assert marked["slow"] and marked["complaint"] and not marked["fast"]


@pytest.mark.parametrize(("text", "topic"), [
    ("The app won't open since the update", "Reliability"),
    ("It keeps stopping", "Reliability"),
    ("Netflix buffers all evening", "Performance"),
    ("I wish it was just free", "Pricing"),
    ("$10 a month for this?", "Pricing"),
    ("Please add a dark theme", "Features"),
    ("I love that I can schedule posts", "Features"),
    ("It won't connect to PayPal when I pay", "Integrations"),
    ("Norton blocks it on startup", "Integrations"),
    ("my email provider changed its server", "Integrations"),
])
def test_phrase_rules_name_topics_without_their_keywords(rules: Rules, text: str,
                                                         topic: str) -> None:
    assert topic in rules.phrase_topics(normalise(text).text)


@pytest.mark.parametrize(("text", "masked"), [
    ("How do I report a problem?", "report_problem"),
    ("Chromecast support please", "capability_support"),
    ("It supports PDF now", "capability_support"),
    ("The video keeps freezing", "content_video"),
    ("Syncing between my phone and laptop", "own_sync"),
])
def test_risky_keywords_in_another_sense_are_masked(rules: Rules, text: str,
                                                    masked: str) -> None:
    assert masked in rules.mask(normalise(text).text)[1]


@pytest.mark.parametrize("text", [
    "The tutorial video explained it well",  # a video that teaches: Documentation
    "Sync with Google Calendar",  # another product: Integrations
])
def test_risky_keywords_keep_their_sense_in_context(rules: Rules, text: str) -> None:
    assert rules.mask(normalise(text).text)[1] == []


@pytest.mark.parametrize(("text", "absent"), [
    ("How do I report a problem with the app?", "Reporting"),
    ("Chromecast support would be great", "Support"),
    ("The video stops playing halfway", "Documentation"),
    ("Syncing between my phone and my laptop works", "Integrations"),
])
def test_the_tagger_does_not_take_risky_keywords_at_their_word(shipped: Tagger, text: str,
                                                               absent: str) -> None:
    assert absent not in shipped.tag(text)


@pytest.mark.parametrize(("text", "topic"), [
    ("The app won't open anymore", "Reliability"),
    ("keeps stopping every time I open it", "Reliability"),
    ("It buffers constantly", "Performance"),
    ("$10 a month is too much", "Pricing"),
    ("Support was great, they answered in minutes", "Support"),
    ("No bugs so far", "Reliability"),
])
def test_the_tagger_finds_ordinary_wording(shipped: Tagger, text: str, topic: str) -> None:
    assert topic in shipped.tag(text)


CUSTOM = {"topics": [*SHIPPED_TAXONOMY["topics"],
                     {"name": "Shipping", "keywords": ["courier*", "parcel*", "delivery"]}]}


def test_a_custom_topic_the_model_does_not_know_is_tagged_by_its_keywords() -> None:
    taxonomy = build_taxonomy(CUSTOM, source="custom")
    tagger = Tagger(taxonomy, load_model(SHIPPED_MODEL_FILE))
    assert "Shipping" not in tagger.model.topics
    assert tagger.topics[-1] == "Shipping"
    assert tagger.tag("The courier left my parcel in the rain") == ["Shipping"]
    assert "Shipping" in tagger.tag("Delivery was late and the app crashed")
    assert "Reliability" in tagger.tag("Delivery was late and the app crashed")
    assert "Shipping" not in tagger.tag("The app crashed")


def test_a_team_taxonomy_of_its_own_topics_is_tagged_by_keywords_alone(tmp_path: Path,
                                                                        settings) -> None:
    path = tmp_path / "team.json"
    path.write_text(json.dumps({"topics": [{"name": "Kitchen", "keywords": ["coffee", "lunch"]},
                                           {"name": "Parking", "keywords": ["car park*"]}]}))
    tagger = load_tagger(settings.replace(topics_file=str(path)))
    assert tagger.topics == ("Kitchen", "Parking")
    assert tagger.tag("The coffee is bad and the car park is full") == ["Kitchen", "Parking"]
    assert tagger.tag("The app crashes") == []


def test_the_model_file_round_trips_through_json(tmp_path: Path) -> None:
    model = LinearModel(("A", "B"), (-1.0, 0.5), (0.5, 0.4),
                        {"w:x": ((0, 2.5),), "k:B": ((0, -0.25), (1, 1.0))}, meta={"C": 1.0})
    path = tmp_path / "model.json"
    size = save_model(model, path)
    assert size == path.stat().st_size and not list(tmp_path.glob("*.tmp"))
    again = load_model(path)
    assert again == model
    assert again.margins({"w:x", "k:B"}) == pytest.approx(model.margins({"w:x", "k:B"}))
    assert model_from_json(json.loads(path.read_text())) == model


@pytest.mark.parametrize(("change", "problem"), [
    ({"format": "other"}, "not an NPS TV topic model"),
    ({"version": 99}, "version 99"),
    ({"thresholds": [0.5, 0.5]}, "sizes disagree"),
    ({"weights": {"w:x": [[5, 1.0]]}}, "sizes disagree"),
    ({"intercepts": None}, "malformed"),
])
def test_a_broken_model_file_is_refused_with_the_reason(change: dict, problem: str) -> None:
    data = LinearModel(("A",), (0.0,), (0.5,), {"w:x": ((0, 1.0),)}).to_json() | change
    with pytest.raises(ValueError, match=problem):
        model_from_json(data, source="m.json")


def test_the_shipped_model_is_package_data_loaded_without_unpickling(monkeypatch,
                                                                     settings) -> None:
    assert SHIPPED_MODEL_FILE.name in SHIPPED_DATA_FILES
    assert SHIPPED_MODEL_FILE.read_bytes().startswith(b"{")

    def refuse(*_args, **_kwargs):
        raise AssertionError("the tagger must not unpickle anything")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "Unpickler", refuse)
    tagger = load_tagger(settings)
    assert set(tagger.model.topics) <= set(tagger.topics)
    assert "Reliability" in tagger.tag("It crashes every time")


def test_the_tagging_code_never_imports_pickle_or_joblib() -> None:
    package = Path(__file__).resolve().parents[1] / "app" / "tagging"
    for path in package.glob("*.py"):
        source = path.read_text()
        assert "import pickle" not in source and "joblib" not in source, path.name


def test_one_tagger_serves_many_threads_alike(shipped: Tagger) -> None:
    texts = ["crashes daily", "too expensive", "great docs", "slow sync with Outlook"] * 25
    expected = [shipped.tag(text) for text in texts]
    results: dict[int, list[list[str]]] = {}

    def run(n: int) -> None:
        results[n] = [shipped.tag(text) for text in texts]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(found == expected for found in results.values())


def test_the_store_tags_through_the_tagger(settings) -> None:
    store = open_store(settings)
    try:
        assert isinstance(store.tagger.__self__, Tagger)
        assert "Reliability" in store.tagger("The app won't open anymore")
    finally:
        store.dispose()


def test_the_demo_comments_get_their_intended_topics(shipped: Tagger) -> None:
    """The demo's comments are in the training set (the product's own domain), so the wall's
    topics panel shows what the demo's story means; a few may still miss one topic."""
    from app.demo.corpus import COMMENTS

    found = [set(comment.topics) <= set(shipped.tag(comment.text)) for comment in COMMENTS]
    assert sum(found) / len(found) >= 0.95


def test_training_chooses_each_topic_its_own_regularisation() -> None:
    """per_topic_choice keeps, per topic, the C with the best cross-validated F1 (the smaller
    on a tie), with that C's threshold and probabilities; fit_model takes one C per topic."""
    import numpy as np

    from app.tagging.train import fit_model, per_topic_choice

    labels = [["A"], ["A", "B"], [], ["B"]]
    good_a = np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.3], [0.2, 0.4]])
    good_b = np.array([[0.6, 0.1], [0.3, 0.9], [0.7, 0.2], [0.2, 0.8]])
    trials = {0.5: ([0.5, 0.5], good_a), 1.0: ([0.5, 0.5], good_b)}
    cs, thresholds, probabilities = per_topic_choice(trials, labels, ["A", "B"])
    assert cs == [0.5, 1.0] and thresholds == [0.5, 0.5]
    assert probabilities.tolist() == np.column_stack([good_a[:, 0], good_b[:, 1]]).tolist()
    tied = per_topic_choice({0.5: ([0.5, 0.5], good_a), 1.0: ([0.5, 0.5], good_a)}, labels,
                            ["A", "B"])
    assert tied[0] == [0.5, 0.5]
    features = [{"w:price"}, {"w:price", "w:bill"}, {"w:other"}, {"w:bill"}] * 3
    model = fit_model(features, labels * 3, ["A", "B"], [0.01, 10.0])
    a, b = (dict(model.weights["w:price"]), dict(model.weights["w:bill"]))
    assert abs(b[1]) > abs(a[0])  # the weakly regularised topic learns larger weights
