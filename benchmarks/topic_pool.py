"""The unlabelled pool for distillation (benchmarks/topic_distill.py): real comments of the
corpus's own sources that are in no file of tests/data/topics/, one JSON object a line (``id``,
``source``, ``text``).

    python benchmarks/topic_pool.py --is22 DIR --sumo DIR --gplay DIR --out pool.jsonl

Each DIR is a git clone (or bare repository) of the source at the commit SOURCES.md names; files
are read with ``git show HEAD:<path>``. The R survey answers come from tests/data/real/. Texts
are cleaned as the corpus's were (HTML and URLs removed, whitespace collapsed, 15-600
characters, 3 for survey answers, no e-mail addresses, English forum locales only) and left out
when their letters and digits (lower-cased), or the first 40 of them, match any comment of the
corpus (either split), targeted.jsonl or the agreement files: no held-out comment, nor a repost
of one, enters training. Only that comparison touches held-out texts; none is printed.
Needs ``openpyxl`` for the IS-22 workbooks (not a project dependency).
"""

from __future__ import annotations

import argparse
import csv
import html
import io
import json
import re
import subprocess
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOPICS = ROOT / "tests" / "data" / "topics"
REAL = ROOT / "tests" / "data" / "real"
KNOWN_FILES = ("corpus.jsonl", "targeted.jsonl", "relabelled.jsonl", "agreement.jsonl",
               "adjudicated.jsonl")
IS22_APPS = {"Evernote": "evernote", "Facebook": "facebook", "Netflix": "netflix",
             "com.spotify.music": "spotify", "com.twitter.android": "twitter",
             "com.whatsapp": "whatsapp", "com.zentertain.photoeditor": "photoeditor",
             "eBay": "ebay"}
IS22_PATH = "Study 2 - Searching App Reviews/Dataset/Collected reviews/{}_1250_review_level.xlsx"
SUMO_FILES = ("BY_MONTH/2019-11-01-2019-11-30-allproducts-creator-answers-desktop-all-locales.csv",
              "BY_WEEK/2020-06-14-2020-06-20-allproducts-creator-answers-desktop-all-locales.csv",
              "BY_WEEK/2020-06-21-2020-06-27-allproducts-creator-answers-desktop-all-locales.csv",
              "BY_WEEK/2020-06-28-2020-07-04-allproducts-creator-answers-desktop-all-locales.csv",
              "FIREFOX74/2020-03-10-2020-03-25-firefox-creator-answers-desktop-all-locales.csv")
GPLAY_FILES = ("15july2018-run-experiment2-1407-replies-to-reviews.csv",
               "30june2018-1420-should-be-2500-ish-reviews-with-replies-november-30june2018.csv",
               "experiment1-replies-reviews.csv",
               "experiment2-930-replies-missing-approx1000-replies-reviews.csv")

LOG_LIKE = re.compile(r"\n|\{|\}|0x[0-9a-f]{4}|\\\\")


def text_key(text: str) -> str:
    """Lower-cased letters and digits: the corpus's de-duplication key."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def clean(text: str | None) -> str:
    """HTML tags and URLs removed, entities decoded, whitespace collapsed."""
    text = html.unescape(re.sub(r"<[^>]+>", " ", text or ""))
    return re.sub(r"\s+", " ", re.sub(r"https?://\S+|www\.\S+", " ", text)).strip()


class Pool:
    """Comments gathered so far, and the keys and ids they must not repeat."""

    def __init__(self) -> None:
        self.rows: dict[str, dict[str, str]] = {}
        self.known: set[str] = set()
        self.prefixes: set[str] = set()
        self.ids: set[str] = set()
        for name in KNOWN_FILES:
            for line in (TOPICS / name).read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                self.ids.add(row["id"])
                if "text" in row:
                    self.known.add(text_key(row["text"]))
                    self.prefixes.add(text_key(row["text"])[:40])

    def add(self, id_: str, source: str, text: str | None, shortest: int = 15) -> None:
        text = clean(text)
        key = text_key(text)
        if (id_ in self.ids or not shortest <= len(text) <= 600 or not key or key in self.known
                or key[:40] in self.prefixes or key in self.rows
                or re.search(r"\S+@\S+\.\w+", text)):
            return
        self.rows[key] = {"id": id_, "source": source, "text": text}


def git_show(repo: Path, path: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{path}"], check=True,
                          capture_output=True).stdout


def add_r_surveys(pool: Pool) -> None:
    """The two R surveys' "like best / least" answers (ids as the corpus's: r18-best-<line>)."""
    for year, name, columns in (("18", "r-community-survey-2018", None),
                                ("19", "r-community-survey-2019", (22, 23))):
        with open(REAL / f"{name}.tsv", encoding="utf-8", newline="") as handle:
            table = list(csv.reader(handle, delimiter="\t"))
        if columns is None:
            columns = (table[0].index("Qlike_best"), table[0].index("Qlike_least"))
        for column, question in zip(columns, ("best", "least"), strict=True):
            for line, row in enumerate(table[1:], start=2):
                if column < len(row) and row[column] not in ("", "NA"):
                    pool.add(f"r{year}-{question}-{line}", name, row[column], shortest=3)


def add_is22(pool: Pool, repo: Path) -> None:
    import openpyxl

    for prefix, app in IS22_APPS.items():
        book = openpyxl.load_workbook(io.BytesIO(git_show(repo, IS22_PATH.format(prefix))),
                                      read_only=True)
        rows = list(book.active.iter_rows(values_only=True))
        column = list(rows[0]).index("Content")
        for line, row in enumerate(rows[1:], start=2):
            if row[column]:
                pool.add(f"is22-{app}-{line}", f"is22-{app}", str(row[column]))


def add_sumo(pool: Pool, repo: Path) -> None:
    """Support-forum questions, ``title. body`` (the title alone when that is over 600)."""
    for path in SUMO_FILES:
        text = git_show(repo, path).decode("utf-8", "replace")
        for row in csv.DictReader(io.StringIO(text)):
            content = row["content"] or ""
            if LOG_LIKE.search(content) and len(content) > 2000:
                continue  # a pasted log or configuration
            if row.get("locale", "").startswith("en"):
                title, body = clean(row["title"]), clean(row["content"])
                joined = f"{title}. {body}"
                pool.add(f"sumo-{row['id']}", f"sumo-{path.split('/')[0].lower()}",
                         joined if len(joined) <= 600 else title)


def add_gplay(pool: Pool, repo: Path) -> None:
    """Firefox for Android reviews (title and text), English only."""
    for path in GPLAY_FILES:
        for row in csv.DictReader(io.StringIO(git_show(repo, path).decode("utf-8-sig", "replace"))):
            if (row.get("Reviewer Language") or "en")[:2] == "en":
                text = " ".join(x for x in (row.get("Review Title"), row.get("Review Text")) if x)
                pool.add(f"fxa-gplay-{row.get('id', '')}", "fxa-gplay", text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--is22", type=Path, required=True, help="jsdabrowski/IS-22")
    parser.add_argument("--sumo", type=Path, required=True, help="rtanglao/rt-sumo-forum-report")
    parser.add_argument("--gplay", type=Path, required=True,
                        help="rtanglao/052018sprint-rt-fennec-gplay-oi")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    csv.field_size_limit(1 << 30)
    pool = Pool()
    add_r_surveys(pool)
    add_is22(pool, args.is22)
    add_sumo(pool, args.sumo)
    add_gplay(pool, args.gplay)
    with open(args.out, "w", encoding="utf-8") as out:
        for row in pool.rows.values():
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"{len(pool.rows)} comments: {dict(Counter(r['source'] for r in pool.rows.values()))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
