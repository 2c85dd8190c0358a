"""What may reach a public screen: masking, direction overrides, length."""

from __future__ import annotations

import pytest

from app.privacy import (
    ELLIPSIS,
    Profanity,
    clean_for_display,
    cut_at_word,
    load_profanity,
    mask_personal_data,
    mask_profanity,
    neutralise_direction,
)

OVERRIDES = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"


@pytest.mark.parametrize("address", [
    "john.doe@example.com",
    "john\uff20example\uff0ecom",  # fullwidth ＠ and ．
    "\uff4a\uff4f\uff48\uff4e\uff20\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\uff0e\uff43\uff4f\uff4d",
    "john\ufe6bexample\u3002com",  # small ﹫, ideographic full stop
    "john (at) example (dot) com",
    "john(at)example(dot)com",
    "JOHN (AT) EXAMPLE (DOT) COM",
    "john [at] example [dot] co [dot] uk",
    "john {at} example.com",
    "john <at> example <dot> com",
    "jo\u200bhn@exa\u200bmple.com",  # zero-width space inside
    "john\u200b@\u200bexample\u200b.\u200bcom",
    "jo\u200dhn\u2060@example\ufeff.com\u00ad",  # joiner, word joiner, BOM, soft hyphen
    "john @ example.com",
])
def test_obfuscated_email_is_masked(address):
    masked = mask_personal_data(f"Please write to {address} soon")
    assert masked == "Please write to [email] soon"


@pytest.mark.parametrize("text", [
    "Meeting @ 9.30 was great",
    "Version 2.3.1 fixed it",
    "Look (at) the docs. Great support",
    "We met (at) the office.",
    "Ping @support, thanks",
    "Worth it [at] 49.99 a month",
    "Price 50 000 per year since 2019",
    "Support at example dot com would be nice",  # words, not brackets: left alone
    "Family 👨\u200d👩\u200d👧 loves it",
    "شكرا على الدعم",
])
def test_ordinary_text_is_not_masked(text):
    assert mask_personal_data(text) == text
    assert clean_for_display(text) == text


@pytest.mark.parametrize("char", list(OVERRIDES))
def test_direction_overrides_are_removed(char):
    assert neutralise_direction(f"good{char}doog bad") == "gooddoog bad"
    assert clean_for_display(f"{char}evil{char}") == "evil"


def test_direction_marks_and_line_breaks_stay():
    # U+200E/U+200F only mark direction; line breaks are paragraphs.
    assert clean_for_display("a\u200eb\u200fc\nd") == "a\u200eb\u200fc\nd"
    assert clean_for_display("bell\x07 escape\x1b[31m") == "bell escape[31m"


def test_override_cannot_hide_an_address():
    text = "mail \u202emoc.elpmaxe@nhoj\u202c now"
    assert clean_for_display(text) == "mail [email] now"


def test_cut_adds_an_ellipsis_and_masks_first():
    assert clean_for_display("x" * 500, 100) == "x" * 99 + ELLIPSIS
    assert len(clean_for_display("x" * 500, 100)) == 100
    # The address is masked before the cut, so no part of it shows.
    shown = clean_for_display("a" * 90 + " john.doe@example.com", 100)
    assert "john" not in shown and "[email]" in shown
    assert clean_for_display(None) == "" and clean_for_display("", 10) == ""
    assert clean_for_display("short", 100) == "short"
    assert clean_for_display(" " * 5000 + "x", 100) == ELLIPSIS  # blanks only: no crash


def test_only_what_can_be_shown_is_scanned_and_nothing_leaks_at_the_edge():
    # Addresses every 40 characters; the scan stops near 4 x the limit, mid-address.
    text = "".join(f"mail jane.doe{i:03d}@example.com now. " for i in range(300))
    shown = clean_for_display(text, 100)
    assert len(shown) <= 100 and "jane" not in shown and shown.count("[email]") >= 5
    # Many short words, then an address far past the limit: same text as a full scan.
    words = "good " * 2000 + "jane@example.com"
    assert clean_for_display(words, 100) == cut_at_word(mask_personal_data(words), 100)


# -- long text is cut at a word boundary -------------------------------------------------------


def test_a_long_comment_is_cut_at_a_word_boundary():
    text = "The export to spreadsheets keeps failing whenever the report is large"
    assert cut_at_word(text, 40) == "The export to spreadsheets keeps…"
    assert len(cut_at_word(text, 40)) <= 40
    assert cut_at_word(text, 200) == text
    # One long word (a link) is cut where it must, not back to a far-away space.
    link = "see https://example.org/" + "a" * 100
    assert cut_at_word(link, 50) == link[:49] + ELLIPSIS
    assert clean_for_display(text, 40) == "The export to spreadsheets keeps…"


# -- profanity ---------------------------------------------------------------------------------

WORDS = Profanity.parse("# a test list\nshit\ndamn\nfuck*\n\n")


@pytest.mark.parametrize(("text", "shown"), [
    ("this is shit", "this is s***"),
    ("What the SHIT!", "What the S***!"),
    ("absolutely fucking useless", "absolutely f****** useless"),
    ("sh1t and $hit", "s*** and $***"),
    ("shiiiit happens", "s****** happens"),
    ("f*ck it", "f*** it"),
    ("damn", "d***"),
])
def test_listed_words_are_masked_however_they_are_written(text, shown):
    assert mask_profanity(text, WORDS) == shown


@pytest.mark.parametrize("text", ["Scunthorpe", "the assessment was classic", "shitake? no: "
                                  "shiitake", "5 * 3 = 15", "rating: ***", "damnation",
                                  "Dick's Sporting Goods"])
def test_innocent_words_stay(text):
    assert mask_profanity(text, load_profanity()) == text


def test_the_shipped_list_masks_common_words_and_a_data_dir_list_replaces_it(tmp_path):
    shipped = load_profanity()
    assert mask_profanity("what a fucking shitshow", shipped) == "what a f****** s*******"
    (tmp_path / "profanity.txt").write_text("")  # an empty list turns masking off
    assert mask_profanity("what a fucking shitshow", load_profanity(str(tmp_path))) == \
        "what a fucking shitshow"
    assert load_profanity(str(tmp_path / "none")) == shipped  # no file: the shipped list
    assert repr(shipped) == repr(Profanity.parse("\n".join(sorted(
        [*shipped.words, *(s + "*" for s in shipped.stems)]))))  # stable in every process
    # Made once (part fingerprints take it for every screen whose feed moved), and the list
    # still compares and hashes by its words alone.
    assert repr(shipped) is repr(shipped)
    assert shipped == Profanity(shipped.words, shipped.stems)
    assert hash(shipped) == hash(Profanity(shipped.words, shipped.stems))


def test_profanity_is_masked_with_personal_data_and_before_the_cut():
    text = "shit, mail me at jo@example.com " + "word " * 40
    shown = clean_for_display(text, 60, WORDS)
    assert shown.startswith("s***, mail me at [email]") and len(shown) <= 60
    assert clean_for_display("shit", 60) == "shit"  # only when asked (the wall asks)
