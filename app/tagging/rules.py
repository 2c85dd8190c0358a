"""The rules layer: phrase rules that name a topic without its keyword ("won't open",
"keeps stopping", "$10 a month"), and context rules that take a risky keyword out of the
keyword layer's sight when the comment uses it in another sense ("report a problem",
"Chromecast support", a "video" that is not a tutorial, syncing one's own devices).

Both read the normalised text (``text.Normalised.text``: folded, contractions written out,
amounts as ``moneyamount``). Rules follow the labelling rules of the topic corpus
(tests/data/topics/LABELLING.md); each rule's hits become one model feature per topic
(``r:<topic>``) and each masked sense one feature (``m:<name>``), so the model weighs them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

# What a product "supports" (a capability: Features or Integrations, never Support).
_CAPABILITIES = (r"(?:chromecast|airplay|bluetooth|cast(?:ing)?|pdf|file|format|device|controller"
                 r"|keyboard|language|unicode|gpu|widget|hdr|4k|dolby|stylus|landscape|tablet"
                 r"|offline|multi[ -]?\w+|native|os|extension|add-?on|plugin)")
_START_VERBS = r"(?:open|load|start|launch|work|play|run|connect|respond|sync|update|install)"
# topic -> phrases that say it without the taxonomy's words.
PHRASES: dict[str, tuple[str, ...]] = {
    "Reliability": (
        rf"\b(?:will|would|does|do|did|can|could) not (?:even )?{_START_VERBS}",
        r"\bkeeps? (?:on )?(?:stopping|crashing|closing|freezing|shutting|kicking|logging me out"
        r"|restarting|disconnecting|failing)",
        r"\b(?:stopped|stops|quit|quits) (?:working|responding|loading|playing)",
        r"\b(?:not|never) (?:working|loading|responding)\b", r"\bforce[ -]?clos",
        r"\bblack screen\b", r"\bblank screen\b", r"\bkicks? (?:me )?out\b",
        r"\bunfortunately,? .{0,20}has stopped\b", r"\bglitch", r"\bbugg?y\b", r"\bhangs?\b",
        r"\b(?:log|sign) ?in (?:issue|problem|fail)", r"\bcan not (?:log|sign) ?in\b",
        r"\bdoes not work\b", r"\bnothing works\b", r"\bstuck on\b", r"\bnot stable\b",
        r"\b(?:will|does|do|did|can|could) not (?:load|render|display|show|download|play|save"
        r"|send|receive)", r"\bnot (?:\w+ing|\w+ed) (?:properly|correctly)\b", r"\bstutter",
        r"\bscript errors?\b", r"\bunable to\b", r"\b(?:disappeared|vanished|gone missing)\b",
    ),
    "Performance": (
        r"\bbuffer", r"\blagg?(?:y|ing|s)?\b", r"\btakes? (?:so |too |very )?long\b",
        r"\bbattery\b", r"\b(?:memory|ram)\b", r"\bload(?:s|ing)? (?:so |too |very )?slow",
        r"\bresponsive\b", r"\bbig data\b", r"\blarge (?:data|files?)", r"\bspeed\b",
        r"\bquick(?:ly)? to load\b", r"\bheavy\b",
        r"\bchoppy\b", r"\bdelay(?:ed)?\b", r"\b(?:cpu|drain)", r"\bunresponsive\b",
    ),
    "Pricing": (
        r"\bmoneyamount\b", r"\b(?:just|be|is|was|are|it|its|for|stay|remain|totally|completely"
        r"|being|100%) free\b", r"\bfree (?:version|trial|plan|tier|app|of charge|and open)",
        r"\bopen[ -]?source\b", r"\bpremium\b", r"\bpaywall", r"\bpay (?:for|to|money|extra)\b",
        r"\bworth (?:it|the money|every)\b", r"\b(?:a|per) (?:month|year)\b", r"\bmonthly fee",
        r"\b(?:in-?app )?purchases?\b", r"\bpro version\b", r"\bmoney\b", r"\bpaid\b",
        r"\bcosts? (?:nothing|money)\b", r"\bno cost\b", r"\bgratis\b",
    ),
    "Billing": (
        r"\bcharged?\b", r"\brefund", r"\bcancel(?:l?ed|l?ing)? (?:my |the )?(?:subscription"
        r"|membership|account|plan)", r"\bpayment", r"\bcredit card\b", r"\bauto-?renew",
        r"\btook my money\b", r"\bbilled\b",
    ),
    "Support": (
        r"\bcustomer (?:service|support|care)\b", r"\bsupport (?:team|staff|agent|was|is|were"
        r"|has|have|people)\b", r"\bcontact(?:ed|ing)? (?:support|you|them|the developer)",
        r"\bcommunity\b", r"\bstack ?overflow\b", r"\bforums?\b", r"\bmailing list",
        r"\b(?:no|never) (?:one|reply|response|answer)", r"\b(?:never|not|did not|has not|have not)"
        r" (?:replied|responded|answered|got back|gotten back|heard back)\b",
        r"\bsupport (?:never|did not|does not|is not|was not|can not)\b", r"\bresponded\b",
        r"\bhelpful people\b",
        r"\brstudio community\b", r"\bhelp (?:from|online)\b",
        r"\b(?:read|listen to) (?:these |the |our )?(?:reviews|feedback)\b",
    ),
    "Ease of use": (
        r"\beas(?:y|ier|ily|iest) to (?:use|learn|navigate|understand|read|find)",
        r"\b(?:hard|difficult|confusing|tricky) to (?:use|learn|navigate|understand|read|find"
        r"|remember|figure)", r"\blearning curve\b", r"\buser[ -]?friendly\b", r"\bsyntax\b",
        r"\b(?:in)?consisten", r"\bsimple\b", r"\bsimplicity\b", r"\btoo many (?:steps|clicks)",
        r"\bnot intuitive\b", r"\bcumbersome\b", r"\bquirk", r"\bweird\b", r"\blayout\b",
        r"\bdesign\b",
        r"\b(?:ugly|beautiful|pretty|clean look|cluttered|annoying|laid out|organi[sz]ed)\b",
        r"\b(?:hard|difficult) to find\b", r"\bcould not find\b", r"\bnot user friendly\b",
    ),
    "Features": (
        r"\bplease add\b", r"\b(?:love|like|great|nice|handy|useful|glad) (?:that|how) (?:i|you"
        r"|we|it) can\b(?! not)", r"\b(?:add|bring back) (?:a|an|the|more|option|support)\b",
        r"\boption to\b", r"\b(?:ability|able) to\b", r"\bwould be (?:nice|great|good)\b",
        r"\bi wish (?:it|there|you|they)\b", r"\blets? (?:me|you|us)\b",
        r"\ballows? (?:me|you|us)\b",
        r"\bpackages?\b", r"\blibrar(?:y|ies)\b", r"\bflexib", r"\bversatil", r"\bpowerful\b",
        r"\bcapabilit", r"\bfunctions?\b", r"\bso many\b", r"\bneeds? (?:a|an|more|to add)\b",
        r"\bsupports\b", r"\bsupport for\b", rf"\b{_CAPABILITIES} support\b",
        r"\bno longer (?:can|able|possible)",
        r"\bno (?:option|way|button|setting|choice) (?:to|for)\b", r"\bbring (?:\w+ )?back\b",
        r"\b(?:need|needs|want|would like) (?:an? |the )?(?:option|button|way|feature|setting)",
        r"\bcan not (?:pause|resume|cancel|disable|preview|remove|delete|turn off)\b",
        r"\bno (?:home|back|quit|exit|resume) (?:button|option)?", r"\bwidget",
        r"\bremoved\b", r"\bcan not (?:add|change|edit|choose|select|find a way)\b",
        r"\btidyverse\b", r"\bggplot", r"\bshiny\b",
    ),
    "Onboarding": (
        r"\binstall", r"\bget(?:ting)? started\b", r"\bbeginners?\b", r"\bnewbies?\b",
        r"\bnew users?\b", r"\bsign(?:ed|ing)? ?up\b", r"\bcreat(?:e|ing) (?:an |my )?account",
        r"\bfirst (?:time|steps?|use)\b", r"\blog ?in screen\b", r"\bregist(?:er|ration)\b",
        r"\bstart(?:ing)? out\b", r"\bentry\b",
    ),
    "Integrations": (
        r"\bpython\b", r"\bc\+\+", r"\bsql\b", r"\bdatabases?\b", r"\bapis?\b", r"\bexcel\b",
        r"\bspss\b", r"\bsas\b", r"\bstata\b", r"\bjava(?:script)?\b", r"\bspark\b",
        r"\bconnect(?:s|ing|ion)? (?:to|with)\b", r"\binterfac(?:e|es|ing) (?:with|to)\b",
        r"\b(?:google (?:drive|calendar|fit|home|assistant)|outlook|dropbox|slack|alexa"
        r"|fitbit|garmin|strava|spotify|zapier|salesforce)\b", r"\bintegrat",
        r"\bother (?:languages|tools|apps|software|programs)\b", r"\brcpp\b", r"\breticulate\b",
        r"\b(?:add-?ons?|extensions?|plug-?ins?)\b", r"\b(?:gmail|yahoo|hotmail|imap|smtp|pop3"
        r"|caldav|carddav|exchange server)\b", r"\b(?:json|odbc|jupyter|tensorflow|matlab|perl"
        r"|julia|stata|git|github)\b",
        # other companies' services a comment uses with the product (LABELLING.md, R7)
        r"\bpaypal\b", r"\bg\+|\bgoogle (?:play (?:music|card)|photos|docs|sheets|pay"
        r"|authenticator|meet|account)\b", r"\b(?:microsoft|ms) (?:office|word|teams|store"
        r"|exchange)\b", r"\boffice ?365\b|\bonenote\b|\bicloud\b",
        r"\bzoom (?:meetings?|calls?|app|account)\b",
        r"\bweb clipper\b", r"\b(?:antivirus|norton|mcafee|avast|kaspersky|bitdefender"
        r"|malwarebytes|avg)\b", r"\b(?:bitwarden|lastpass|1password|keepass|dashlane)\b",
        r"\blink(?:ed|ing)? (?:it )?(?:to|with) (?:my )?(?:facebook|google|twitter|instagram)",
        r"\bshare (?:to|on|with) (?:facebook|instagram|twitter|whatsapp)", r"\bprovider\b",
        r"\bwebmail\b",
    ),
    "Mobile app": (
        r"\b(?:iphone|ipad|android|ios|smartphone|tablet|phone|mobile)\b",
        r"\bsmall screen", r"\bpush notification",
        r"\b(?:samsung|galaxy|kindle fire|pixel|nexus|motorola|moto g|huawei|xiaomi|oneplus)\b",
        r"\bhome screen\b", r"\bnotifications?\b", r"\balerts?\b", r"\bon the go\b",
        r"\b(?:desktop|web|laptop|computer|pc|full|browser|normal|regular)"
        r" (?:version|site|website)",
        r"\b(?:the|regular|normal) website\b", r"\baway from (?:home|my computer|my desk)",
        r"\b(?:tiny|small) screen", r"\b(?:droid|kindle)\b", r"\banywhere\b",
    ),
    "Documentation": (
        r"\bvignettes?\b", r"\btutorials?\b", r"\bbooks?\b", r"\bcourses?\b", r"\bexamples?\b",
        r"\bhelp (?:files?|pages?|docs?)\b", r"\bmanuals?\b", r"\bdocumentation\b", r"\bdocs\b",
        r"\bdocumented\b", r"\bresources\b", r"\bhow[ -]to\b", r"\bcheat ?sheets?\b",
        r"\bblogs?\b", r"\bonline (?:help|material|resources)",
    ),
    "Reporting": (
        r"\b(?:plot|plots|plotting|graphics|graphs?|charts?|visuali[sz]|dashboards?)",
        r"\b(?:r ?markdown|rmarkdown|knitr|bookdown|markdown)\b", r"\breports?\b(?! (?:a|an|the"
        r" )?(?:problem|bug|issue|crash|error))", r"\bstatistic", r"\banalytic",
    ),
}

# Risky senses, removed before the keyword layer reads the text: name -> pattern.
# A "video" or "sync" is masked only without its topic's context (see CONTEXT_KEEPS).
MASKS: dict[str, str] = {
    "report_problem": r"\b(?:report(?:s|ed|ing)?|submit(?:ted)?) (?:a |an |the |this |these |"
                      r"that |my |it |any )?(?:problem|bug|issue|crash|error|glitch)s?\b"
                      r"|\breported (?:it |this |them )?(?:to|on)\b",
    "capability_support": r"\bsupports?\b(?= (?:for|of)\b)|\bsupports\b|\bsupported\b"
                          rf"|\b{_CAPABILITIES} support\b"
                          r"|\bno support for\b|\bsupport (?:for|of)\b",
    "content_video": r"\bvideos?\b",
    "own_sync": r"\bsync\w*\b",
    "free_sense": r"\b(?:feel|ad|hands|bug|error|hassle|stress|crash) ?-?free\b",
}
CONTEXT_KEEPS: dict[str, str] = {
    "content_video": r"\b(?:tutorial|how[ -]to|youtube|learn|course|explain|instruction|guide"
                     r"|walkthrough|lesson|training)",
    "own_sync": r"\b(?:google|outlook|calendar|dropbox|slack|fitbit|garmin|strava|spotify"
                r"|salesforce|crm|erp|exchange|icloud|onedrive|zapier|third[ -]party|api)\b",
}


class Rules:
    """The phrase rules and masks, compiled once; ``apply`` is pure and thread-safe.

    Both give exactly what one search per topic and one substitution per mask give, cheaper:
    ``phrase_topics`` scans the text once with every phrase in one flat alternation (the
    engine skips a phrase at a word start by its first character) and, where that finds
    something, asks each topic not yet found whether it matches there; ``mask`` first asks
    whether any mask matches at all (in most comments none does).
    """

    def __init__(self) -> None:
        self.phrases = tuple((topic, re.compile("|".join(f"(?:{p})" for p in patterns)))
                             for topic, patterns in PHRASES.items())
        self.masks = tuple((name, re.compile(pattern),
                            re.compile(CONTEXT_KEEPS[name]) if name in CONTEXT_KEEPS else None)
                           for name, pattern in MASKS.items())
        self.phrase_scanner = re.compile(_union([p for ps in PHRASES.values() for p in ps]))
        self.any_mask = re.compile("|".join(f"(?:{p})" for p in MASKS.values()))

    def phrase_topics(self, text: str) -> list[str]:
        """The topics some phrase rule finds in normalised ``text``."""
        phrases = self.phrases
        found = [False] * len(phrases)
        left, start, scan = len(phrases), 0, self.phrase_scanner.search
        while left and (hit := scan(text, start)) is not None:
            start = hit.start()  # some phrase matches here: which topics' phrases do?
            for index, (_topic, pattern) in enumerate(phrases):
                if not found[index] and pattern.match(text, start):
                    found[index] = True
                    left -= 1
            start += 1
        return [topic for (topic, _pattern), hit in zip(phrases, found, strict=True) if hit]

    def mask(self, text: str) -> tuple[str, list[str]]:
        """``text`` with the risky senses blanked out, and the names of those masked."""
        masked: list[str] = []
        if self.any_mask.search(text) is None:  # no mask matches: none will after another
            return text, masked
        for name, pattern, keep in self.masks:
            if keep is not None and keep.search(text):
                continue
            text, count = pattern.subn(" ", text)
            if count:
                masked.append(name)
        return text, masked


def _union(patterns: Sequence[str]) -> str:
    """One regex matching where any of ``patterns`` matches (only where, not which: the
    order of its alternatives is free). The word boundary that starts most of them is
    written once in front, and their rests are grouped by a leading letter ("keeps? ..." and
    "kicks? ..." under one "k"), so at a word start the regex engine skips a whole group by
    one character; a pattern with an alternation of its own or without that boundary stays
    whole beside them."""
    by_initial: dict[str, list[str]] = {}
    rests, whole = [], []
    for pattern in patterns:
        rest = pattern[2:] if pattern.startswith(r"\b") else ""
        if not rest or not _is_single_branch(rest):
            whole.append(f"(?:{pattern})")
            continue
        for one in _spread(rest):
            if len(one) > 1 and one[0].isalnum() and one[1] not in "*+?{":
                by_initial.setdefault(one[0], []).append(one[1:])
            else:
                rests.append(one)
    alternatives = [f"{initial}(?:{'|'.join(tails)})"
                    for initial, tails in sorted(by_initial.items())] + rests
    parts = ([rf"\b(?:{'|'.join(alternatives)})"] if alternatives else []) + whole
    return "|".join(parts) or "(?!)"


_LEADING_WORDS = re.compile(r"\(\?:([a-z0-9 ]+(?:\|[a-z0-9 ]+)+)\)(?![*+?{])")


def _spread(rest: str) -> list[str]:
    """``rest`` as alternatives that each start with a letter where it starts with a group of
    plain words: "(?:will|would) not" -> "will not", "would not" (the same matches)."""
    leading = _LEADING_WORDS.match(rest)
    if leading is None:
        return [rest]
    tail = rest[leading.end():]
    return [word + tail for word in leading.group(1).split("|")]


def _is_single_branch(pattern: str) -> bool:
    """Whether ``pattern`` has no ``|`` outside a group (so it can stand in an alternation
    unwrapped) and does not begin with a quantifier of its own."""
    depth, index = 0, 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 1  # the escaped character
        elif char == "[":  # a class: "]" right after "[" or "[^" is a member, "\\" escapes
            index += 2 if pattern[index + 1:index + 2] == "^" else 1
            index += 1 if pattern[index:index + 1] == "]" else 0
            while index < len(pattern) and pattern[index] != "]":
                index += 2 if pattern[index] == "\\" else 1
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "|" and depth == 0:
            return False
        index += 1
    return depth == 0 and pattern[0] not in "*+?{|)"


def rule_features(topics: Iterable[str], masked: Iterable[str]) -> set[str]:
    """The model's features for phrase-rule topics (``r:``) and masked senses (``m:``)."""
    return {f"r:{topic}" for topic in topics} | {f"m:{name}" for name in masked}
