"""The blocklist on obfuscated and innocent text, measured; its loaders, CLI helper and guard.

The two corpora below are the measurement: every blocked term written in each obfuscation a
chat troll uses, inside a chat-like sentence, and a corpus of innocent chat and co-host lines
heavy with words that merely contain a short term. ``benchmarks/safety_eval.py`` prints the
same figures with the misses and false positives listed.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from voxelle_app.core.errors import ConfigurationError
from voxelle_app.core.safety import (
    Blocklist,
    SpeechGuard,
    default_terms,
    fingerprint,
    load_blocklist,
    moderate,
    normalize,
    read_terms,
)
from voxelle_app.core.settings import SafetySettings

# --- the corpus of obfuscated blocked text ----------------------------------------------------

# Surface forms a viewer would type (not the list's wildcard syntax), across every category.
BLOCKED_WORDS = [
    "fuck", "fucking", "motherfucker", "shit", "bullshit", "cunt", "bitch", "asshole", "ass",
    "nigger", "faggot", "retard", "whore", "slut", "pussy", "cock", "rapist", "twat", "wanker",
    "dickhead", "porn", "kys", "kill yourself", "heil hitler", "doxxed",
]

_LEET_DIGITS = str.maketrans({"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"})
_LEET_SYMBOLS = str.maketrans({"a": "@", "s": "$", "i": "!", "o": "0"})
_CYRILLIC = str.maketrans({
    "a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "i": "і", "k": "к",
    "s": "ѕ", "h": "һ",
})
_GREEK = str.maketrans({
    "a": "α", "o": "ο", "i": "ι", "k": "κ", "t": "τ", "u": "υ", "v": "ν", "e": "ε", "p": "ρ",
    "x": "χ",
})
_ACCENTS = str.maketrans({
    "a": "á", "e": "é", "i": "ï", "o": "ö", "u": "ü", "c": "ç", "n": "ñ", "s": "š", "t": "ţ",
})


def _per_word(text: str, sep: str) -> str:
    return " ".join(sep.join(word) for word in text.split())


def _stretch(text: str) -> str:
    vowels = [i for i, c in enumerate(text) if c in "aeiou"]
    i = vowels[0] if vowels else len(text) - 1
    return text[:i] + text[i] * 5 + text[i + 1 :]


def _mask(text: str) -> str:
    for i, c in enumerate(text):
        if i > 0 and c in "aeiou" and text[i - 1] != " ":
            return text[:i] + "*" + text[i + 1 :]
    return text[:1] + "*" + text[2:]


def _fullwidth(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "\u3000" for c in text)


def _math_bold(text: str) -> str:
    return "".join(chr(0x1D41A + ord(c) - 97) if "a" <= c <= "z" else c for c in text)


def _zero_width(text: str) -> str:
    return _per_word(text, "\u200b")


OBFUSCATIONS = {
    "plain": lambda w: w,
    "upper": str.upper,
    "title": str.title,
    "punctuation around": lambda w: f'"{w}!!"',
    "dots": lambda w: _per_word(w, "."),
    "dashes": lambda w: _per_word(w, "-"),
    "underscores": lambda w: _per_word(w, "_"),
    "spaced letters": lambda w: _per_word(w, " "),
    "spaced upper": lambda w: _per_word(w.upper(), " "),
    "repeated letters": _stretch,
    "leet digits": lambda w: w.translate(_LEET_DIGITS),
    "leet symbols": lambda w: w.translate(_LEET_SYMBOLS),
    "masked letter": _mask,
    "cyrillic look-alikes": lambda w: w.translate(_CYRILLIC),
    "greek look-alikes": lambda w: w.translate(_GREEK),
    "full-width": _fullwidth,
    "math bold": _math_bold,
    "zero-width": _zero_width,
    "diacritics": lambda w: w.translate(_ACCENTS),
    "leet + dots + upper": lambda w: _per_word(w.translate(_LEET_DIGITS).upper(), "."),
    "zero-width + full-width": lambda w: _fullwidth(_zero_width(w)),
    "cyrillic + stretched": lambda w: _stretch(w).translate(_CYRILLIC),
}

TEMPLATES = [
    "{}",
    "lol you {}",
    "what the {} is this",
    "{} this game",
    "honestly {}, streamer",
    "@vox say {} please",
]


def obfuscated_corpus() -> list[tuple[str, str, str]]:
    """(word, obfuscation, sentence) for every blocked word in every obfuscation."""
    out = []
    n = 0
    for word in BLOCKED_WORDS:
        for name, fn in OBFUSCATIONS.items():
            out.append((word, name, TEMPLATES[n % len(TEMPLATES)].format(fn(word))))
            n += 1
    return out


# --- the corpus of innocent text ----------------------------------------------------------

SCUNTHORPE_WORDS = [
    "class", "classic", "grass", "glass", "bass", "brass", "mass", "pass", "passion",
    "assassin", "assassination", "assume", "assist", "assistant", "assessment", "asset",
    "embassy", "ambassador", "harass", "carcass", "compass", "molasses", "lasso", "sassy",
    "Massachusetts", "Cassandra", "hassle", "Scunthorpe", "cocktail", "cockpit", "peacock",
    "Hancock", "Hitchcock", "Cockburn", "shuttlecock", "therapist", "therapists", "grape",
    "drape", "scrape", "rapeseed", "trapeze", "shiitake", "shitake", "title", "titan",
    "titanic", "petite", "appetite", "Dickens", "Dickinson", "snigger", "niggle", "niggardly",
    "Niger", "Nigeria", "raccoon", "cocoon", "tycoon", "spicy", "spice", "conspicuous",
    "Pakistan", "analysis", "canal", "arsenal", "arsenic", "Sussex", "Essex", "Middlesex",
    "paradox", "orthodox", "detox", "Fukushima", "Phuket", "fire retardant", "retardation",
    "slutsk", "horseshoe", "pussycat", "cumulative", "document", "cucumber", "button",
    "buttress", "Shittu", "Penistone", "Clitheroe", "whorl", "twattle", "wankel engine",
    "bitcoin", "Hitler's rise is a history topic",
]

INNOCENT_SENTENCES = [
    # chat
    "gg wp everyone", "G G", "L O L", "W W W", "o7 streamer", "F in chat", "lmao that clutch",
    "pog", "Kappa", "first time here, love the vibes", "what's your setup?",
    "what keyboard is that", "play some music pls", "hi from Brazil!", "can you say hi to my mom",
    "how long have you been streaming", "that boss fight was insane", "1v1 me",
    "I scored 455 points", "lvl 55 already", "error 404 lol", "7/10 would watch again",
    "gr8 stream m8", "sk8 or die", "w8 what", "l33t h4x", "n00b move", "gg ez", "b4 the raid",
    "$5 says he dies", "50$ donation incoming", "@Vox what is your favourite colour?",
    "@Vox tell me a joke", "!ask what game is next", "I need a ssh key for the server",
    "the pen is mightier than the sword", "the pen is on the table", "pen island is a shop",
    "that was a bit chilly", "he has sharp skills", "this is a classic", "we pass the ball",
    "touch grass", "bass drop incoming", "the glass is half full", "I assume you are right",
    "assassin's creed is great", "I'm in a class of my own", "the therapist helped a lot",
    "Scunthorpe United won today", "a cocktail party", "assessment week is brutal",
    "my assistant is on holiday", "kill the boss first", "I died to the boss again",
    "that's a paradox", "I'm on a detox", "shiitake mushrooms are tasty",
    "drop a follow if you like it", "thanks for the sub!", "the raid was huge",
    "the spice must flow", "a raccoon stole my sandwich", "she is a tycoon",
    "tit for tat", "the blue tit is a bird", "a cock-a-doodle morning",
    "hit the target", "as soon as possible", "is she home?", "he's a great guy",
    "U S A", "A S A P", "I T S over", "c l a s s is in session", "g r a s s", "p a s s",
    "a s s a s s i n", "t h e r a p i s t", "s c u n t h o r p e", "p e n i s l a n d",
    "Hello,world", "wait...what", "co-op mode", "re-do that", "e.g. this one", "i.e. that",
    "kills: 12, deaths: 3", "headshot!", "that's a shame", "the title screen", "sussy baka",
    "shut up and take my money", "no cap", "bruh", "sheesh", "I'm so tired", "let's gooo",
    "nice one", "rip", "so close!!!", "AAAAAA", "hahahaha", "wow wow wow", "big brain play",
    "that's cap", "I'm dead 💀", "🔥🔥🔥", "❤️ love you all", "the ship docks at noon",
    "I love cucumbers", "a passable attempt", "assets are loading", "the bass player rocks",
    "the cockpit view is cool", "Hitchcock made great films", "Dickens wrote novels",
    "my sister is an analyst", "the canal boat", "the arsenal of weapons", "Essex is nice",
    "my dog is named Sassy", "a hassle-free setup", "massive win", "lasso the horse",
    "Fukushima is in Japan", "Phuket has beaches", "fire retardant paint", "a petite dress",
    "the titanic sank", "a titan of industry", "cumulative score", "button mash",
    "spicy noodles", "conspicuous spot", "Pakistan's cricket team", "Nigeria won",
    "he niggled about the rules", "she sniggered", "a cocoon of blankets",
    "the ambassador arrived", "embassy closed", "harassment is not ok here",
    "my shih tzu is cute", "the shuttlecock flew", "horseshoe crab", "whorl of the shell",
    "bitcoin price is up", "he is cocky", "buttress the wall", "document the bug",
    # things a co-host says
    "Thanks for the raid, everyone!", "Welcome in, new friends!",
    "Oh wow, thank you so much for the gifted subs!", "*giggles* That's so sweet of you.",
    "Let me think about that for a second.", "I think the answer is forty-two.",
    "That boss has a classic weak spot on its back.", "Grass types are weak to fire.",
    "You should pass the ball earlier.", "Assassins are great for stealth runs.",
    "The therapist in that game gives you side quests.", "A cocktail of potions, nice!",
    "I'm just an AI, but I love this community.", "Let's keep chat friendly, okay?",
    "Don't forget to hydrate!", "That was a massive play.", "Ha! Nice try, chat.",
    "Hmm, I'm not sure about that one.", "Good luck on the next run!",
    "Oops, the streamer died again.", "Let's go! Victory!", "Who wants to hear a fun fact?",
    "The Scunthorpe problem is a classic filter bug.", "I'd assume it respawns soon.",
    "Ask me anything, I'm all ears.", "Shh, the streamer is concentrating.",
    "Is it just me or is this level hard?", "Remember to stretch, everyone.",
    "The assistant NPC has a quest for you.", "Pass me the snacks, please.",
    "Raccoons are basically tiny bandits.", "A peacock just walked by in the game!",
    "It's a paradox, but it works.", "The titanic boss is finally down.",
    "The glass cannon build is risky.", "I love the bass in this song.",
    "Ooh, spicy take!", "We're on a detox from losing, apparently.",
    "The ambassador quest is next.", "That was a cumulative effort, team.",
]


def innocent_corpus() -> list[str]:
    return [f"that {w} though" for w in SCUNTHORPE_WORDS] + SCUNTHORPE_WORDS + INNOCENT_SENTENCES


@dataclass
class Figures:
    recall: float
    false_positive_rate: float
    caught: int
    blocked_total: int
    flagged: int
    innocent_total: int
    misses: list[tuple[str, str, str]] = field(default_factory=list)
    false_positives: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"recall {self.recall:.4f} ({self.caught}/{self.blocked_total} obfuscated samples "
            f"blocked); false-positive rate {self.false_positive_rate:.4f} "
            f"({self.flagged}/{self.innocent_total} innocent samples flagged)"
        )


def measure(blocklist: Blocklist) -> Figures:
    blocked = obfuscated_corpus()
    misses = [(w, o, s) for w, o, s in blocked if blocklist.check(s).allowed]
    innocent = innocent_corpus()
    fps = [(s, m.matched) for s in innocent if not (m := blocklist.check(s)).allowed]
    return Figures(
        recall=1 - len(misses) / len(blocked),
        false_positive_rate=len(fps) / len(innocent),
        caught=len(blocked) - len(misses),
        blocked_total=len(blocked),
        flagged=len(fps),
        innocent_total=len(innocent),
        misses=misses,
        false_positives=fps,
    )


@pytest.fixture(scope="module")
def default_list() -> Blocklist:
    return Blocklist(default_terms())


# --- the measurement ---------------------------------------------------------------------------


def test_recall_and_false_positive_rate_on_the_corpora(
    default_list: Blocklist, record_property: pytest.RecordProperty
) -> None:
    figures = measure(default_list)
    print("\nblocklist:", figures.summary())
    record_property("recall", figures.recall)
    record_property("false_positive_rate", figures.false_positive_rate)
    assert figures.blocked_total >= 500 and figures.innocent_total >= 300
    assert figures.recall >= 0.95, figures.misses
    assert figures.false_positive_rate <= 0.02, figures.false_positives


@pytest.mark.parametrize("obfuscation", list(OBFUSCATIONS))
def test_every_obfuscation_is_caught_for_most_terms(
    default_list: Blocklist, obfuscation: str
) -> None:
    fn = OBFUSCATIONS[obfuscation]
    missed = [w for w in BLOCKED_WORDS if default_list.check(f"so {fn(w)} lol").allowed]
    assert len(missed) <= 1, missed


@pytest.mark.parametrize("word", SCUNTHORPE_WORDS)
def test_words_that_contain_a_term_are_not_flagged(default_list: Blocklist, word: str) -> None:
    assert default_list.check(f"I said {word}, twice").allowed


# --- specific behaviour ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "term"),
    [
        ("word,", "word"),
        ("(word)", "word"),
        ("w.o.r.d", "word"),
        ("w o r d", "word"),
        ("W  O  R  D", "word"),
        ("woooooord", "word"),
        ("w0rd", "word"),
        ("ԝоrd", "word"),  # Cyrillic komi we and o
        ("ｗｏｒｄ", "word"),
        ("w\u200bo\u200dr\u2060d", "word"),
        ("wórd", "word"),
        ("w*rd", "word"),
        ("words", "word"),
        ("glasses", "glass"),
    ],
)
def test_a_custom_term_survives_obfuscation(text: str, term: str) -> None:
    assert Blocklist([term]).check(f"so {text} yes").matched == (term,)


def test_spaced_letters_inside_a_longer_spelled_word_are_not_a_match() -> None:
    bl = Blocklist(["ass", "bitch"])
    assert bl.check("c l a s s").allowed  # "ass" spelled inside "class"
    assert bl.check("g.l.a.s.s").allowed
    assert not bl.check("a s s").allowed
    assert not bl.check("u r a b i t c h").allowed  # "u", "r", "a" are words on their own


def test_white_space_joins_letters_only_next_to_a_single_letter() -> None:
    bl = Blocklist(["penis", "shit"])
    assert bl.check("the pen is on the table").allowed
    assert bl.check("was hit by a car").allowed
    assert not bl.check("p e n i s").allowed
    assert not bl.check("s h i t").allowed


def test_numbers_are_not_leetspeak_unless_the_term_is_a_number() -> None:
    bl = Blocklist(["ass", "1488"])
    assert bl.check("I scored 455 points").allowed
    assert not bl.check("a55").allowed
    assert bl.check("1488").matched == ("1488",)
    assert bl.check("14880 viewers").allowed


def test_wildcards_extend_a_term_only_where_asked() -> None:
    bl = Blocklist(["bitch*", "*shit", "ass"])
    assert bl.check("stop bitching").matched == ("bitch*",)
    assert bl.check("what bullshit").matched == ("*shit",)
    assert bl.check("shitake").allowed  # "*shit" extends to the left only
    assert bl.check("assume").allowed
    assert bl.check("dumbass").allowed  # "ass" is a whole word only


def test_multi_word_terms_match_across_spacing_and_obfuscation() -> None:
    bl = Blocklist(["kill yourself"])
    for text in ["kill yourself", "KILL   YOURSELF", "k1ll y0urs3lf", "killyourself",
                 "k i l l  y o u r s e l f", "kill.yourself"]:
        assert bl.check(f"just {text} now").matched == ("kill yourself",), text
    assert bl.check("kill the boss yourself").allowed


def test_allowlist_removes_a_term_and_protects_a_phrase() -> None:
    bl = Blocklist(["dick", "ass"], allow=["dick grayson", "ass"])
    assert bl.terms == ("dick",)
    assert bl.check("Dick Grayson is Nightwing").allowed
    assert bl.check("what a dick").matched == ("dick",)
    assert bl.check("kiss my ass").allowed


def test_user_names_are_checked_split_at_case_changes_and_digits() -> None:
    bl = Blocklist(["ass", "kys"])
    assert bl.check_name("BigAssGamer").matched == ("ass",)
    assert bl.check_name("kys123").matched == ("kys",)
    assert bl.check_name("ClassyAssassin").allowed
    assert bl.check_name("GrassHopper99").allowed


def test_normalization_and_fingerprint() -> None:
    assert normalize("ＦＵＬＬ\u200bwidth Ünïcödé") == "fullwidth unicode"
    assert fingerprint("LOL!!!") == fingerprint("lol") == fingerprint("l o l")
    assert fingerprint("lol") != fingerprint("lel")


def test_terms_file_syntax() -> None:
    text = "# comment\nfirst term\n\n  second   # trailing comment\nx\n"
    assert read_terms(text) == ["first term", "second", "x"]
    bl = Blocklist(read_terms(text))
    assert bl.terms == ("first term", "second")  # a single letter is not a usable term


def test_default_list_covers_every_category(default_list: Blocklist) -> None:
    for text in ["you n1gger", "f4gg0t", "fuck off", "send nudes", "kys", "I will dox you",
                 "heil hitler", "what is her home address"]:
        assert not default_list.check(text).allowed, text
    assert len(default_list) >= 150


def test_load_blocklist_adds_a_file_to_the_default_and_own_terms(tmp_path: Path) -> None:
    extra = tmp_path / "mine.txt"
    extra.write_text("# my list\nbanana\n", encoding="utf-8")
    settings = SafetySettings(blocklist=["pineapple"], allowlist=["shit"])
    bl = load_blocklist(settings, extra)
    assert not bl.check("b a n a n a").allowed
    assert not bl.check("pineapples").allowed
    assert not bl.check("fuck").allowed  # the default list still applies
    assert bl.check("shit happens").allowed  # the allowlist from settings applies
    only_own = load_blocklist(SafetySettings(use_default_blocklist=False, blocklist=["kiwi"]))
    assert only_own.terms == ("kiwi",)


def test_load_blocklist_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="could not be read"):
        load_blocklist(SafetySettings(), tmp_path / "missing.txt")


def test_moderate_yields_one_json_ready_verdict_per_line(default_list: Blocklist) -> None:
    lines = ["hello chat\n", "you f.u.c.k\r\n", "\n"]
    out = list(moderate(lines, default_list))
    assert out == [
        {"text": "hello chat", "allowed": True, "matched": []},
        {"text": "you f.u.c.k", "allowed": False, "matched": ["*fuck*"]},
        {"text": "", "allowed": True, "matched": []},
    ]
    assert json.loads(json.dumps(out[1])) == out[1]


# --- what is said -------------------------------------------------------------------------------


def test_a_blocked_sentence_cuts_the_rest_of_the_reply(caplog: pytest.LogCaptureFixture) -> None:
    guard = SpeechGuard(Blocklist(["fuck*"]))
    reply = ["Hello chat!", "What the f*cking hell.", "Anyway, welcome.", "Bye!"]
    with caplog.at_level(logging.INFO, logger="voxelle.safety"):
        verdicts = [guard.check_sentence(s, turn_id=7) for s in reply]
    assert [v.allowed for v in verdicts] == [True, False, False, False]
    assert verdicts[1].matched == ("fuck*",)
    assert verdicts[2].matched == ()  # cut, not matched
    assert guard.is_cut(7)
    assert guard.check_sentence("A new reply.", turn_id=8).allowed
    audit = [r for r in caplog.records if getattr(r, "category", "") == "SECURITY"]
    assert len(audit) == 1
    assert "fuck*" in audit[0].getMessage() and "reply 7" in audit[0].getMessage()
    assert "hell" not in audit[0].getMessage()  # the sentence itself is not logged


def test_a_verdict_unpacks_as_the_directors_sentence_check_expects() -> None:
    check = Blocklist(["fuck*"]).check
    allowed, matched = check("well f.u.c.k me")
    assert (allowed, matched) == (False, ("fuck*",))
    assert not check("fuck") and check("fun")  # truth value is "allowed"
