"""Pseudo-labelled comments (app/tagging/pseudo.py) and how train.py uses them: each fold
trains on its own teacher's labels, the final fit on the full teacher's, null rows are left out."""

from __future__ import annotations

from pathlib import Path

from app.config import SHIPPED_TOPICS_FILE
from app.tagging.pseudo import compact_row, fitted_to, read_pseudo, tune_digest, write_pseudo
from app.tagging.train import out_of_fold, train
from app.topics import load_taxonomy

PSEUDO = Path(__file__).resolve().parent / "data" / "topics" / "pseudo.jsonl"


def _write(path: Path, ids: list[str], rows: list[dict]) -> None:
    write_pseudo(path, {"folds": 2, "tune_ids_sha256": tune_digest(ids)}, rows)


def test_a_pseudo_label_file_round_trips_and_leaves_out_null_labels(tmp_path: Path) -> None:
    path = tmp_path / "pseudo.jsonl"
    _write(path, ["a", "b"], [
        compact_row({"id": "p1", "source": "s", "text": "one", "topics": ["Pricing"]}, [None, []]),
        compact_row({"id": "p2", "source": "s", "text": "two", "topics": None},
                    [["Billing"], None]),
        compact_row({"id": "p3", "source": "s", "text": "three", "topics": []}, [[], []])])
    pseudo = read_pseudo(path)
    assert pseudo.for_fold(None) == (["one", "three"], [("Pricing",), ()])
    assert pseudo.for_fold(0) == (["two", "three"], [("Billing",), ()])
    assert pseudo.for_fold(1) == (["one", "three"], [(), ()])
    assert "folds" not in path.read_text().splitlines()[3]  # agrees everywhere: not written
    assert read_pseudo(tmp_path / "absent.jsonl") is None


def test_folds_made_on_other_tune_rows_fall_back_to_the_final_labels(tmp_path: Path) -> None:
    path = tmp_path / "pseudo.jsonl"
    _write(path, ["a", "b"], [
        {"id": "p1", "source": "s", "text": "one", "topics": ["Pricing"], "folds": {"0": None}}])
    pseudo = read_pseudo(path)
    assert fitted_to(pseudo, ["a", "b"], 2) is pseudo
    stale = fitted_to(pseudo, ["a", "b", "c"], 2)
    assert stale.meta["folds_stale"]
    assert stale.for_fold(0) == stale.for_fold(1) == (["one"], [("Pricing",)])


def test_each_fold_trains_on_its_own_extra_rows() -> None:
    """fold 0's extra rows say the word y means A: rows with y that fold scores get A more
    often than those fold 1 scores, whose model saw y only without A."""
    features = [{"w:x"}, {"w:y"}, {"w:x"}, {"w:y"}] * 5
    labels = [["A"], [], ["B"], []] * 5
    seen: list[int] = []

    def fold_extra(fold: int):
        seen.append(fold)
        if fold:
            return [], [], []
        return [{"w:y"}] * 30, [["A"]] * 30, [1.0] * 30

    p = out_of_fold(features, labels, ["A", "B"], 1.0, folds=2, fold_extra=fold_extra)
    assert seen == [0, 1]
    from app.tagging.train import fold_splits

    plain = [i for i, row in enumerate(labels) if not row]  # the w:y rows
    (_, first), (_, second) = fold_splits(len(features), 2)
    lifted = p[[i for i in first if i in plain], 0].mean()
    assert lifted > p[[i for i in second if i in plain], 0].mean() + 0.1


def test_training_with_pseudo_labels_weighs_them_in_the_final_fit(tmp_path: Path) -> None:
    taxonomy = load_taxonomy(SHIPPED_TOPICS_FILE)
    texts = ["the price is too high", "it crashes all the time", "great app"] * 6
    labels = [["Pricing"], ["Reliability"], []] * 6
    path = tmp_path / "pseudo.jsonl"
    rows = [{"id": f"p{i}", "source": "s", "text": "zorblax is lovely", "topics": ["Pricing"]}
            for i in range(20)]
    write_pseudo(path, {"folds": 5}, rows)
    pseudo = read_pseudo(path)
    weights = {}
    for weight in (0.1, 1.0):
        model, _ = train(texts, labels, taxonomy, c_grid=[1.0], with_demo=False, pseudo=pseudo,
                         pseudo_weight=weight)
        assert model.meta["pseudo_labelled"] == 20 and model.meta["pseudo_weight"] == weight
        weights[weight] = dict(model.weights["w:zorblax"])[model.topics.index("Pricing")]
    assert 0 < weights[0.1] < weights[1.0]
    plain, _ = train(texts, labels, taxonomy, c_grid=[1.0], with_demo=False)
    assert "w:zorblax" not in plain.weights and "pseudo_labelled" not in plain.meta


def test_the_shipped_pseudo_labels_are_pool_comments_outside_the_corpus() -> None:
    """tests/data/topics/pseudo.jsonl (when there is one): no comment of the corpus (either
    split) or of targeted.jsonl, and folds made on the corpus's tune rows."""
    import json

    from app.tagging.train import FOLDS, read_corpus, read_targeted

    pseudo = read_pseudo(PSEUDO)
    if pseudo is None:
        return
    corpus = read_corpus(PSEUDO.with_name("corpus.jsonl"), split=None)
    targeted = read_targeted(PSEUDO.with_name("targeted.jsonl"))
    rows = [json.loads(line) for line in PSEUDO.read_text(encoding="utf-8").splitlines()[1:]]
    known = {r["id"] for r in corpus + targeted}
    texts = {r["text"].casefold() for r in corpus + targeted}
    assert not {r["id"] for r in rows} & known
    assert not {t.casefold() for t in pseudo.texts} & texts
    tune = [r["id"] for r in corpus if r["split"] == "tune"]
    assert fitted_to(pseudo, tune, FOLDS) is pseudo
