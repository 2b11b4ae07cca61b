"""Input selection and the on-air safety layer: what the co-host reads, and what it may say.

One matcher (``Blocklist``) guards both directions: chat messages and user names before the
co-host reads them (``InputSelector``) and every sentence before it is spoken
(``SpeechGuard``). Keeping one code path means a term the streamer adds is enforced on the
way in and on the way out, and an obfuscation beaten once is beaten everywhere.

Matching works on a normalized copy of the text (zero-width characters dropped, NFKC for
full-width and styled letters, case folded, diacritics stripped, Cyrillic/Greek look-alikes
mapped to Latin). Each term compiles to a regular expression that tolerates stretched letters
(three or more: "fuuuck"; a doubled letter spells another word, "rapping" is not "raping"),
leetspeak look-alikes, masked letters (``f*ck``) and separators between letters, and that must
start and end on a word boundary, so "class" never matches "ass". White space may split a
term only next to single letters ("f u c k", never "the pen is"), and a spelled-out term inside
a longer spelled-out word ("c l a s s") is not a match. A cheap "skeleton" prefilter picks the
few terms worth a regular-expression search, which keeps a sentence at tens of microseconds
with the default list (``benchmarks/safety_eval.py`` measures it).

Term syntax (files, settings, the UI): one term per line, ``#`` starts a comment, several words
make a phrase; a trailing ``*`` also matches longer words ("fuck*" matches "fucking"), a leading
``*`` also matches words that end with the term ("*shit" matches "bullshit"). A plain term also
matches its plural ("-s"/"-es").
"""

from __future__ import annotations

import bisect
import heapq
import importlib.resources
import itertools
import re
import unicodedata
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Literal, NamedTuple

from voxelle_app.core.errors import ConfigurationError
from voxelle_app.core.events import ChatMessage, InputDropped, Source, StreamEvent, UserInput
from voxelle_app.core.logs import Category, get_logger
from voxelle_app.core.settings import SafetySettings

_audit = get_logger("voxelle.safety", Category.SECURITY)

DEFAULT_BLOCKLIST_RESOURCE = "resources/blocklist_default.txt"

# --- normalization -------------------------------------------------------------------------

# Characters that render as nothing (or as blank) but are not Unicode format characters.
_INVISIBLE = frozenset({0x115F, 0x1160, 0x3164, 0xFFA0, 0x2800, 0x17B4, 0x17B5, 0x034F})

# Look-alike letters from other scripts, after case folding and diacritic stripping.
_CONFUSABLES: dict[str, str] = {
    # Cyrillic
    "а": "a", "в": "b", "г": "r", "е": "e", "з": "3", "к": "k", "м": "m", "н": "h",
    "о": "o", "п": "n", "р": "p", "с": "c", "т": "t", "у": "y", "х": "x", "ш": "w",
    "ь": "b", "ъ": "b", "ѕ": "s", "і": "i", "ј": "j", "ԁ": "d", "ԛ": "q", "ԝ": "w",
    "һ": "h", "ӏ": "l", "ү": "y", "ѵ": "v", "ѡ": "w",
    # Greek
    "α": "a", "β": "b", "γ": "y", "ε": "e", "η": "n", "ι": "i", "κ": "k", "μ": "u",
    "ν": "v", "ο": "o", "π": "n", "ρ": "p", "σ": "o", "τ": "t", "υ": "u", "χ": "x",
    "ω": "w", "ϲ": "c", "ϳ": "j",
    # Armenian
    "օ": "o", "ս": "u", "հ": "h", "ո": "n",
    # Latin letters that do not decompose, and small capitals
    "ı": "i", "ȷ": "j", "ɑ": "a", "ɩ": "i", "ɡ": "g", "ɛ": "e", "ø": "o", "ł": "l",
    "đ": "d", "ħ": "h", "ŧ": "t", "ƒ": "f", "æ": "ae", "œ": "oe", "ð": "d",
    "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e", "ɢ": "g", "ʜ": "h", "ɪ": "i",
    "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o", "ᴘ": "p", "ʀ": "r",
    "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z",
    # symbols
    "×": "x", "¡": "!",
}
_CONFUSABLE_TABLE: dict[int, str] = {ord(k): v for k, v in _CONFUSABLES.items()}
# Letters drawn as emoji that NFKC leaves alone: negative circled and negative squared capitals,
# and regional indicator symbols (the letters of flag emoji).
for _block in (0x1F150, 0x1F170, 0x1F1E6):
    _CONFUSABLE_TABLE.update({_block + i: chr(ord("a") + i) for i in range(26)})

_LONG_RUN = re.compile(r"(.)\1{3,}")


def normalize(text: str) -> str:
    """The text as the matcher sees it: lower case, plain Latin letters, no invisible marks.

    Punctuation and digits are kept (they may be leetspeak or separators; the term patterns
    decide). Runs of one character are capped at three, which bounds the patterns' work.
    """
    if text.isascii():
        lowered = text.lower()
    else:
        visible = "".join(
            ch for ch in text
            if ord(ch) not in _INVISIBLE and unicodedata.category(ch) != "Cf"
        )
        folded = unicodedata.normalize("NFKC", visible).casefold()
        decomposed = unicodedata.normalize("NFD", folded)
        bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        lowered = bare.translate(_CONFUSABLE_TABLE)
    return _LONG_RUN.sub(r"\1\1\1", lowered)


# --- leetspeak and the skeleton prefilter ------------------------------------------------------

# Which characters may stand in for a letter. Every symbol listed here is "part of a word",
# never a separator, so the prefilter below stays exact.
_LOOKALIKES: dict[str, str] = {
    "a": "4@",
    "b": "8",
    "c": "(¢",
    "e": "3€",
    "g": "69",
    "i": "1!|",
    "l": "1|",
    "o": "0",
    "s": "5$",
    "t": "7+",
    "u": "v",
    "z": "2",
}
_PLURAL_S = "s5$z"
_MASK = "*"  # stands for any letter but the first: "f*ck", "a**"
_LEET_SYMBOLS = "".join(sorted({c for v in _LOOKALIKES.values() for c in v if not c.isalnum()}))
_WORDISH_SYMBOLS = _LEET_SYMBOLS + _MASK


def _canonical_table() -> dict[int, str]:
    """Map every look-alike to one representative, merging letters that share a look-alike.

    "1" may be "i" or "l", so the skeleton cannot tell them apart: "i", "l", "1", "!" and "|"
    all become "i". Applying the same map to terms and text keeps the prefilter exact.
    """
    parent: dict[str, str] = {}

    def find(c: str) -> str:
        while parent.setdefault(c, c) != c:
            c = parent[c]
        return c

    for letter, alikes in _LOOKALIKES.items():
        for a in alikes:
            ra, rb = find(letter), find(a)
            if ra != rb:
                parent[max(ra, rb, key=lambda c: (not c.isalpha(), c))] = min(
                    ra, rb, key=lambda c: (not c.isalpha(), c)
                )
    return {ord(c): find(c) for c in list(parent) if find(c) != c}


_CANON = _canonical_table()
_SKELETON_DROP = re.compile(r"[^\w*]|_")
_REPEATS = re.compile(r"(.)\1+")
_NON_ALNUM = re.compile(r"[\W_]")


def skeleton(normalized: str) -> str:
    """Letters only, look-alikes merged, repeats collapsed ("F.u-u-c K" → "fuck").

    A term can match a text only if the term's skeleton occurs in the text's skeleton (or
    the text masks letters with ``*``); that makes a cheap substring test the filter that
    decides which of hundreds of terms get a real regular-expression search.
    """
    return _REPEATS.sub(r"\1", _SKELETON_DROP.sub("", normalized.translate(_CANON)))


def fingerprint(text: str) -> str:
    """Key for duplicate suppression: "LOL!!!", "lol" and "l o l" are the same message."""
    return _REPEATS.sub(r"\1", _NON_ALNUM.sub("", normalize(text)))


# --- term patterns ------------------------------------------------------------------------

_SYM = re.escape(_WORDISH_SYMBOLS)
_W = rf"(?:[^\W_]|[{_SYM}])"  # a character that is part of a word (letters, digits, leet)
_SEP = rf"(?:[^\w{_SYM}]|_)"  # a separator: space, punctuation, emoji, underscore
_PUNCT = rf"(?:[^\w\s{_SYM}]|_)"  # a separator that is not white space
# Between two letters of one word: punctuation freely ("f.u.c.k", "sh-it"), white space only
# when a neighbour is a single letter ("f u c k", "a ss"), so "pen is" never reads "penis".
_GAP = rf"(?:{_PUNCT}{{0,4}}|(?<!{_W}{_W}){_SEP}{{1,4}}|{_SEP}{{1,4}}(?={_W}(?!{_W})))"
_GAP1 = rf"(?:{_PUNCT}{{1,4}}|(?<!{_W}{_W}){_SEP}{{1,4}}|{_SEP}{{1,4}}(?={_W}(?!{_W})))"
# Between the words of a phrase: nothing, white space, or any short separator that does not
# end a clause ("kill.yourself", "kill - yourself", but not "at home, address it later").
_WORD_GAP = rf"(?:{_PUNCT}{{0,4}}|\s{{1,4}}|(?:(?![.,;:!?]\s){_SEP}){{1,4}})"
_START = r"(?<![^\W_])"
_END = r"(?![^\W_])"
_PIECES = re.compile(rf"{_W}+")
_SEP_RE = re.compile(_SEP)

# Single letters that are words of their own in chat ("a", "I", "u" for you, "r" for are):
# a spelled-out term may stand next to them ("u r a b i t c h") but not next to other single
# letters, which would make it part of a longer spelled-out word ("c l a s s").
_STANDALONE_LETTERS = frozenset("aiouyr")


def _class_for(ch: str, first: bool) -> str:
    chars = {ch}
    if ch.isalpha():
        chars.update(_LOOKALIKES.get(ch, ""))
    else:  # a look-alike written in the term itself ("a$$"): any letter it may stand for
        for letter, alikes in _LOOKALIKES.items():
            if ch in alikes:
                chars.add(letter)
                chars.update(alikes)
    if not first:
        chars.add(_MASK)
    return "[" + "".join(re.escape(c) for c in sorted(chars)) + "]"


def _term_regex(words: list[str], prefix: bool, suffix: bool) -> str:
    parts: list[str] = [_START]
    if prefix:
        parts.append(f"{_W}*?")
    first = True
    for wi, word in enumerate(words):
        if wi:
            parts.append(_WORD_GAP)
        for ci, ch in enumerate(word):
            if ci:
                parts.append(_GAP)
            cls = _class_for(ch, first)
            doubled = (ci + 1 < len(word) and word[ci + 1] == ch) or (ci and word[ci - 1] == ch)
            if doubled:  # "ss" in "ass": two or more in all
                parts.append(cls + "+")
            else:
                # One letter, or three and more: a doubled letter spells another word
                # ("rapping" is not "raping"); a stretched one is emphasis ("fuuuck"). A letter
                # may also repeat across separators ("f u u u c k").
                parts.append(f"{cls}(?:{cls}{cls}+)?(?:{_GAP1}{cls}+)*")
            first = False
    if suffix:
        parts.append(f"{_W}*")
    else:
        e = _class_for("e", first=True)
        s = "[" + re.escape(_PLURAL_S) + "]"
        parts.append(f"(?:{_GAP}{e}?{_GAP}{s})?")
    parts.append(_END)
    return "".join(parts)


@dataclass
class _Term:
    """One compiled term. The regular expression is built the first time it is needed."""

    name: str  # as the streamer wrote it
    words: list[str]
    prefix: bool
    suffix: bool
    skel: str
    digits: bool  # a number such as "1488": matched literally

    @cached_property
    def pattern(self) -> re.Pattern[str]:
        if self.digits:
            literal = r"\W*".join(re.escape(w) for w in self.words)
            return re.compile(_START + literal + _END)
        return re.compile(_term_regex(self.words, self.prefix, self.suffix))


def _parse_term(raw: str) -> _Term | None:
    name = raw.strip()
    body = name
    prefix = body.startswith("*")
    suffix = body.endswith("*")
    body = body.strip("*").replace("*", "")
    norm = normalize(body)
    words = ["".join(ch for ch in w if ch.isalnum() or ch in _LEET_SYMBOLS) for w in norm.split()]
    words = [w for w in words if w]
    letters = sum(len(w) for w in words)
    if letters < 2:
        return None
    digits = all(w.isdigit() for w in words)
    return _Term(
        name=name,
        words=words,
        prefix=prefix,
        suffix=suffix,
        skel=skeleton(" ".join(words)),
        digits=digits,
    )


def read_terms(text: str) -> list[str]:
    """Terms from a list file: one per line; ``#`` starts a comment; blank lines ignored."""
    terms = []
    for line in text.splitlines():
        term = line.split("#", 1)[0].strip()
        if term:
            terms.append(term)
    return terms


def default_terms() -> list[str]:
    """The shipped default list (slurs, severe profanity, sexual terms, self-harm, doxxing)."""
    resource = importlib.resources.files("voxelle_app").joinpath(DEFAULT_BLOCKLIST_RESOURCE)
    return read_terms(resource.read_text(encoding="utf-8"))


# --- the matcher ------------------------------------------------------------------------------


class Match(NamedTuple):
    """The verdict on one text: ``allowed`` is False when any term matched.

    A named tuple so that a plain ``(allowed, matched)`` check function (the director's
    ``check_sentence`` hook) can be ``Blocklist.check`` itself. Its truth value is ``allowed``
    (a non-empty tuple would otherwise always be true).
    """

    allowed: bool
    matched: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.allowed


ALLOWED = Match(True)
_MASKED_TOKEN = re.compile(rf"(?:[^\W_]|[{re.escape(_LEET_SYMBOLS)}]){_W}*?\*{_W}*")


class Blocklist:
    """Blocked terms and allowed words, matched robustly against obfuscation.

    Immutable once built, so the loop and worker threads may share one instance; build a new
    one when the streamer edits a list. ``allow`` lists words and phrases never flagged: a term
    equal to one is dropped, and a match that lies inside an allowed phrase in the text is
    ignored ("Dick Grayson" may stay allowed while "dick" is blocked).
    """

    def __init__(self, terms: Iterable[str], allow: Iterable[str] = ()) -> None:
        allowed = [t for t in (_parse_term(a) for a in allow) if t is not None]
        allowed_keys = {(t.skel, tuple(t.words)) for t in allowed}
        seen: set[tuple[str, tuple[str, ...], bool, bool]] = set()
        self._terms: list[_Term] = []
        for raw in terms:
            term = _parse_term(raw)
            if term is None:
                continue
            key = (term.skel, tuple(term.words), term.prefix, term.suffix)
            if key in seen or (term.skel, tuple(term.words)) in allowed_keys:
                continue
            seen.add(key)
            self._terms.append(term)
        self._allow = allowed
        self._by_first: dict[str, list[_Term]] = {}
        for term in self._terms:
            if not term.digits:
                self._by_first.setdefault(term.skel[:1], []).append(term)
        self._prefixed = [t for t in self._terms if t.prefix]

    @property
    def terms(self) -> tuple[str, ...]:
        return tuple(t.name for t in self._terms)

    @property
    def allowed_terms(self) -> tuple[str, ...]:
        return tuple(t.name for t in self._allow)

    def __len__(self) -> int:
        return len(self._terms)

    def extended(self, terms: Iterable[str] = (), allow: Iterable[str] = ()) -> Blocklist:
        """A new list with more terms and allowed words (this one stays as it is)."""
        return Blocklist([*self.terms, *terms], [*self.allowed_terms, *allow])

    def check(self, text: str) -> Match:
        """Whether ``text`` may be read or said; the matched terms, as written in the list."""
        if not text:
            return ALLOWED
        norm = normalize(text)
        skel = skeleton(norm)
        candidates = [t for t in self._terms if t.skel in skel]
        if _MASK in norm:
            candidates = self._add_masked_candidates(norm, candidates)
        if not candidates:
            return ALLOWED
        allow_spans: list[tuple[int, int]] | None = None
        hits: list[tuple[int, int, int, str]] = []  # start, -length, list order, name
        for order, term in enumerate(candidates):
            for start, end in _term_spans(term, norm):
                if self._allow:
                    if allow_spans is None:
                        allow_spans = self._allow_spans(norm, skel)
                    if any(a <= start and end <= b for a, b in allow_spans):
                        continue
                hits.append((start, start - end, order, term.name))
        if not hits:
            return ALLOWED
        # One name per place in the text ("f**k" matches several spellings of one word),
        # in reading order.
        matched: list[str] = []
        reach = -1
        for start, neg_len, _, name in sorted(hits):
            if start >= reach and name not in matched:
                matched.append(name)
            reach = max(reach, start - neg_len)
        return Match(False, tuple(matched))

    def check_name(self, name: str) -> Match:
        """Check a user name, also split at case changes and digits ("BigAss99" → "Big Ass")."""
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name)
        variants = [name, spaced, re.sub(r"(?<=[^\W\d_])(\d+)(?=_|$)", r" \1", spaced)]
        matched: list[str] = []
        for variant in dict.fromkeys(variants):
            for term in self.check(variant).matched:
                if term not in matched:
                    matched.append(term)
        return Match(not matched, tuple(matched))

    def _add_masked_candidates(self, norm: str, candidates: list[_Term]) -> list[_Term]:
        # A masked letter hides the term's skeleton; fall back to "starts with the same letter".
        firsts = {m.group(0)[0] for m in _MASKED_TOKEN.finditer(norm)}
        if not firsts:
            return candidates
        extra: dict[int, _Term] = {id(t): t for t in candidates}
        for first in {skeleton(c) or c for c in firsts}:
            for term in self._by_first.get(first, ()):
                extra.setdefault(id(term), term)
        for term in self._prefixed:
            extra.setdefault(id(term), term)
        return list(extra.values())

    def _allow_spans(self, norm: str, skel: str) -> list[tuple[int, int]]:
        spans: list[tuple[int, int]] = []
        for term in self._allow:
            if term.skel in skel:
                spans.extend(_term_spans(term, norm))
        return spans


def _term_spans(term: _Term, norm: str) -> Iterator[tuple[int, int]]:
    """Where ``term`` occurs in the normalized text, after the checks a regex cannot express."""
    pos = 0
    pattern = term.pattern
    while True:
        m = pattern.search(norm, pos)
        if m is None:
            return
        if _plausible(term, norm, m.start(), m.end()):
            yield m.start(), m.end()
            pos = m.end()
        else:
            pos = m.start() + 1


def _plausible(term: _Term, norm: str, start: int, end: int) -> bool:
    text = norm[start:end]
    if not term.digits and not any(c.isalpha() or c in _WORDISH_SYMBOLS for c in text):
        return False  # "455 points" is a number, not "ass"
    pieces = _PIECES.findall(text)
    if not pieces:
        return False
    # A spelled-out match must not be the middle of a longer spelled-out word: "c l a s s".
    if len(pieces[0]) == 1 and not term.prefix and not _side_ok(norm, start, -1):
        return False
    return not (len(pieces[-1]) == 1 and not term.suffix and not _side_ok(norm, end, +1))


def _side_ok(norm: str, edge: int, step: int) -> bool:
    """Whether the single letters glued to one side of a match are words on their own."""
    n = len(norm)
    i = edge if step > 0 else edge - 1  # first character outside the match on that side
    while True:
        gap = 0
        while 0 <= i < n and _SEP_RE.match(norm[i]):
            i += step
            gap += 1
        if gap == 0 or gap > 4 or not 0 <= i < n:
            return True
        j = i
        while 0 <= j < n and not _SEP_RE.match(norm[j]):
            j += step
        if abs(j - i) != 1:
            return True  # a whole word stands there: the match is a word of its own
        if norm[i] not in _STANDALONE_LETTERS:
            return False
        i = j


# --- loading -----------------------------------------------------------------------------------


def load_blocklist(settings: SafetySettings, extra_file: Path | None = None) -> Blocklist:
    """The list the app enforces: the shipped default (unless turned off), the streamer's own
    terms, and the allowlist from settings.

    ``extra_file`` (``voxelle moderate --blocklist FILE``) ADDS its terms to that list rather
    than replacing it: a streamer testing new terms before going live wants to see them work
    together with what is already enforced, and a file can never silently switch the
    default protection off (``use_default_blocklist = false`` in settings does that).
    """
    terms: list[str] = []
    if settings.use_default_blocklist:
        terms.extend(default_terms())
    terms.extend(settings.blocklist)
    if extra_file is not None:
        try:
            terms.extend(read_terms(extra_file.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(
                f"The blocklist file {extra_file} could not be read ({exc}).",
                hint="Give a UTF-8 text file with one term per line.",
                component="safety",
            ) from exc
    return Blocklist(terms, settings.allowlist)


def moderate(lines: Iterable[str], blocklist: Blocklist) -> Iterator[dict[str, object]]:
    """One verdict per input line, for ``voxelle moderate`` (printed as JSON lines)."""
    for line in lines:
        text = line.rstrip("\r\n")
        verdict = blocklist.check(text)
        yield {"text": text, "allowed": verdict.allowed, "matched": list(verdict.matched)}


# --- what is said --------------------------------------------------------------------------------


class SpeechGuard:
    """Checks each sentence of a reply before TTS; once one is blocked the reply is cut there.

    The director calls ``check_sentence`` for every sentence in order. A blocked sentence is
    never spoken, and neither is anything after it in the same reply: the rest of a reply that
    went somewhere unsafe is not worth the risk, and half a thought is better than a ban.
    """

    def __init__(self, blocklist: Blocklist, keep_turns: int = 64) -> None:
        self.blocklist = blocklist
        self._cut: OrderedDict[int, tuple[str, ...]] = OrderedDict()
        self._keep = keep_turns

    def check_sentence(self, text: str, turn_id: int = 0) -> Match:
        """``allowed`` False: do not speak this sentence (``matched`` empty: the reply was cut
        earlier)."""
        if turn_id in self._cut:
            return Match(False, ())
        verdict = self.blocklist.check(text)
        if not verdict.allowed:
            self._cut[turn_id] = verdict.matched
            while len(self._cut) > self._keep:
                self._cut.popitem(last=False)
            _audit.warning(
                "Blocked a sentence of reply %d before it was spoken (matched: %s); the rest "
                "of the reply was dropped.",
                turn_id,
                ", ".join(verdict.matched),
            )
        return verdict

    def is_cut(self, turn_id: int) -> bool:
        return turn_id in self._cut


# --- what is read: input selection -------------------------------------------------------------

DropReason = Literal[
    "paused", "blocked", "answer_mode", "cooldown", "duplicate", "empty", "queue_full", "stale",
    "cleared",
]

# Higher answers first. Events are thanked before ordinary chat; a raid brings a crowd.
EVENT_PRIORITY: dict[str, int] = {
    "raid": 50,
    "gift_sub": 40,
    "subscribe": 35,
    "cheer": 30,
    "redemption": 25,
    "follow": 10,
}
BITS_MESSAGE_PRIORITY = 20
MENTION_PRIORITY = 5
CHAT_PRIORITY = 0


@dataclass(frozen=True)
class Decision:
    """What ``InputSelector.offer`` did with an item."""

    accepted: bool
    reason: str  # "queued", or a DropReason
    detail: str = ""  # a sentence for the UI and logs
    priority: int = 0
    matched: tuple[str, ...] = ()


@dataclass(order=True)
class _Queued:
    sort_key: tuple[int, float, int]
    offered_at: float = field(compare=False)
    item: UserInput = field(compare=False)


Item = ChatMessage | StreamEvent


class InputSelector:
    """Decides which chat messages and stream events the co-host answers, and when.

    Pure logic on an injected clock: the director offers every item as it arrives and asks for
    the next input when it has the floor. Not thread-safe; use it from the event loop.

    - Dropped items (rejected, evicted, expired, cleared) go to ``on_drop`` as
      ``InputDropped`` events, so the UI can show why chat went unanswered. A blocked item's
      text is never put in the event (the UI may be on stream); the SECURITY log gets the
      matched terms.
    - Chat text stays data: ``UserInput.text`` is what the viewer wrote (trimmed), with the
      user's name beside it, for the prompter to quote. Nothing here turns chat into
      instructions.
    - The streamer comes first: after the streamer's own turn (``note_turn("voice")``) or
      while they speak (``set_streamer_speaking``), chat waits; chat turns are at least
      ``chat_min_interval_s`` apart.
    """

    def __init__(
        self,
        settings: SafetySettings,
        blocklist: Blocklist,
        *,
        cohost_name: str = "Vox",
        now: Callable[[], float],
        on_drop: Callable[[InputDropped], object] | None = None,
    ) -> None:
        self.settings = settings
        self.blocklist = blocklist
        self.cohost_name = cohost_name
        self._now = now
        self._on_drop = on_drop
        self._queue: list[_Queued] = []  # sorted: best first
        self._ages: list[tuple[float, int]] = []  # heap of (offered_at, seq); lazily cleaned
        self._live: dict[int, _Queued] = {}  # seq → entry still queued
        self._seq = itertools.count()
        self._last_accepted: dict[str, float] = {}  # user key → time of their last accepted item
        self._recent: OrderedDict[str, float] = OrderedDict()  # fingerprint → time, oldest first
        self._paused = False
        self._last_chat_turn = float("-inf")
        self._last_streamer_turn = float("-inf")
        self._streamer_speaking = False

    # -- configuration

    @property
    def cohost_name(self) -> str:
        return self._cohost_name

    @cohost_name.setter
    def cohost_name(self, name: str) -> None:
        self._cohost_name = name
        self._mention = re.compile(rf"(?<!\w)@?{re.escape(name.strip())}(?!\w)", re.IGNORECASE)

    # -- panic

    @property
    def paused(self) -> bool:
        return self._paused

    def pause(self) -> None:
        """Stop taking chat in (panic): every offer is dropped with reason "paused"."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False

    def clear(self) -> None:
        """Drop everything waiting (panic)."""
        queued, self._queue = self._queue, []
        self._ages, self._live = [], {}
        for entry in queued:
            self._drop_queued(entry.item, "cleared")

    def __len__(self) -> int:
        return len(self._queue)

    def pending(self) -> list[UserInput]:
        """What waits, best first (for the UI)."""
        return [e.item for e in self._queue]

    # -- intake

    def offer(self, item: Item) -> Decision:
        """Queue ``item`` for an answer, or drop it and say why."""
        now = self._now()
        self._expire(now)
        source: Source = item.platform if isinstance(item, ChatMessage) else "twitch"
        if self._paused:
            return self._reject(item, source, "paused", "Chat intake is paused (panic).")

        name_verdict = self.blocklist.check_name(item.user) if item.user else ALLOWED
        text_verdict = self.blocklist.check(item.text)
        if not (name_verdict.allowed and text_verdict.allowed):
            return self._block(item, source, name_verdict, text_verdict)

        if isinstance(item, ChatMessage):
            eligible = self._chat_eligibility(item)
        else:
            eligible = self._event_eligibility(item)
        if isinstance(eligible, str):
            return self._reject(item, source, "answer_mode", eligible)
        text, priority = eligible

        user_key = f"{source}:{(getattr(item, 'user_id', '') or item.user).casefold()}"
        is_chat = isinstance(item, ChatMessage)
        if is_chat:
            last = self._last_accepted.get(user_key)
            if last is not None and now - last < self.settings.user_cooldown_s:
                wait = self.settings.user_cooldown_s - (now - last)
                return self._reject(
                    item, source, "cooldown", f"{item.user} was heard {now - last:.0f} s ago; "
                    f"their next message is taken in {wait:.0f} s."
                )
            key = fingerprint(text)
            if not key:
                return self._reject(item, source, "empty", "Nothing to answer.")
            seen = self._recent.get(key)
            if seen is not None and now - seen < self.settings.duplicate_window_s:
                return self._reject(
                    item, source, "duplicate", "The same message was taken recently."
                )

        text = truncate(text, self.settings.max_input_chars)
        entry = _Queued(
            sort_key=(-priority, now, next(self._seq)),
            offered_at=now,
            item=UserInput(source=source, text=text, user=item.user, priority=priority,
                           origin=item),
        )
        bisect.insort(self._queue, entry)
        self._live[entry.sort_key[2]] = entry
        heapq.heappush(self._ages, (now, entry.sort_key[2]))
        if len(self._queue) > self.settings.queue_size:
            evicted = self._evict()
            if evicted is entry:
                return Decision(False, "queue_full",
                                "The queue is full of more important items.", priority)
        if is_chat:
            self._last_accepted[user_key] = now
            self._recent[key] = now
            self._recent.move_to_end(key)
            self._prune(now)
        return Decision(True, "queued", "", priority)

    def _chat_eligibility(self, msg: ChatMessage) -> tuple[str, int] | str:
        """(text to answer, priority), or why the answer mode skips the message."""
        s = self.settings
        text = msg.text.strip()
        mentioned = msg.mentions_bot or bool(self._mention.search(text))
        bits_ok = msg.bits >= s.min_bits
        priority = CHAT_PRIORITY
        if mentioned:
            priority = MENTION_PRIORITY
        if bits_ok:
            priority = BITS_MESSAGE_PRIORITY
        mode = s.answer_mode
        if mode == "mentions" and not mentioned:
            return f"Answer mode is 'mentions' and the message does not mention {self.cohost_name}."
        if mode == "keyword":
            stripped = _strip_keyword(text, s.keyword)
            if stripped is None:
                return f"Answer mode is 'keyword' and the message does not use {s.keyword!r}."
            text = stripped
        if mode == "subscribers" and not (msg.is_subscriber or msg.is_moderator):
            return "Answer mode is 'subscribers' and the sender is not subscribed."
        if mode == "bits" and not bits_ok:
            return f"Answer mode is 'bits' and the message carries under {s.min_bits} bits."
        if mode == "redemptions":
            return "Answer mode is 'redemptions': chat messages are not answered."
        if not text:
            return "The message is empty once the keyword is removed."
        return text, priority

    def _event_eligibility(self, event: StreamEvent) -> tuple[str, int] | str:
        s = self.settings
        if event.kind == "redemption":
            chosen = {r.strip().casefold() for r in s.redemptions}
            if event.reward.strip().casefold() not in chosen:
                return f"The reward {event.reward!r} is not one the co-host answers."
        if event.kind == "cheer" and event.amount < s.min_bits:
            if s.answer_mode != "all":
                return f"A cheer of {event.amount} bits is under the {s.min_bits} threshold."
            return describe_event(event), CHAT_PRIORITY
        return describe_event(event), EVENT_PRIORITY[event.kind]

    def _block(self, item: Item, source: Source, name: Match, text: Match) -> Decision:
        matched = tuple(dict.fromkeys(name.matched + text.matched))
        what = "chat message" if isinstance(item, ChatMessage) else f"{item.kind} event"
        ident = getattr(item, "message_id", "") or ""
        parts = []
        if not text.allowed:
            parts.append(f"text matched: {', '.join(text.matched)}")
        if not name.allowed:
            parts.append(f"user name matched: {', '.join(name.matched)}")
        who = "a user whose name is blocked" if not name.allowed else repr(item.user)
        _audit.info(
            "Blocked a %s %s%s from %s (%s).",
            source,
            what,
            f" id={ident}" if ident else "",
            who,
            "; ".join(parts),
        )
        self._emit(InputDropped(source=source, user="" if not name.allowed else item.user,
                                text="", reason="blocked"))
        return Decision(False, "blocked", "; ".join(parts), 0, matched)

    def _reject(self, item: Item, source: Source, reason: DropReason, detail: str) -> Decision:
        self._emit(InputDropped(source=source, user=item.user, text=item.text, reason=reason))
        return Decision(False, reason, detail)

    def _drop_queued(self, item: UserInput, reason: DropReason) -> None:
        origin = item.origin
        text = origin.text if origin is not None else item.text
        self._emit(InputDropped(source=item.source, user=item.user, text=text, reason=reason))

    def _emit(self, event: InputDropped) -> None:
        if self._on_drop is not None:
            self._on_drop(event)

    def _evict(self) -> _Queued:
        """Drop the lowest-priority item, the oldest among equals."""
        lowest = self._queue[-1].sort_key[0]
        index = bisect.bisect_left(self._queue, (lowest, float("-inf"), -1),
                                   key=lambda e: e.sort_key)
        entry = self._take(index)
        self._drop_queued(entry.item, "queue_full")
        return entry

    def _take(self, index: int) -> _Queued:
        entry = self._queue.pop(index)
        del self._live[entry.sort_key[2]]
        return entry

    def _expire(self, now: float) -> None:
        """Drop what waited longer than ``max_age_s``, oldest first (the heap keeps it cheap)."""
        max_age = self.settings.max_age_s
        while self._ages:
            offered_at, seq = self._ages[0]
            entry = self._live.get(seq)
            if entry is not None and now - offered_at <= max_age:
                return
            heapq.heappop(self._ages)
            if entry is not None:
                self._take(bisect.bisect_left(self._queue, entry))
                self._drop_queued(entry.item, "stale")

    def _prune(self, now: float) -> None:
        window = self.settings.duplicate_window_s
        while self._recent:
            key, t = next(iter(self._recent.items()))
            if now - t < window:
                break
            self._recent.popitem(last=False)
        cooldown = self.settings.user_cooldown_s
        if len(self._last_accepted) > 4 * self.settings.queue_size + 1000:
            self._last_accepted = {
                k: t for k, t in self._last_accepted.items() if now - t < cooldown
            }

    # -- taking the floor

    def note_turn(self, source: Source, now: float | None = None) -> None:
        """The director started a turn: the streamer's own ("voice", "typed") or chat's."""
        t = self._now() if now is None else now
        if source in ("voice", "typed"):
            self._last_streamer_turn = t
        elif source in ("twitch", "discord"):
            self._last_chat_turn = t

    def set_streamer_speaking(self, active: bool, now: float | None = None) -> None:
        """The streamer is talking (VAD): chat must not take the floor until they finish."""
        self._streamer_speaking = active
        if not active:
            self._last_streamer_turn = self._now() if now is None else now

    def chat_may_speak(self, now: float | None = None) -> bool:
        """Whether a chat input may take the floor now (the streamer always comes first)."""
        return self.seconds_until_chat(now) == 0.0

    def seconds_until_chat(self, now: float | None = None) -> float:
        """How long until chat may take the floor (``inf`` while paused or the streamer talks)."""
        t = self._now() if now is None else now
        if self._paused or self._streamer_speaking:
            return float("inf")
        s = self.settings
        ready_at = max(
            self._last_chat_turn + s.chat_min_interval_s,
            self._last_streamer_turn + s.streamer_holdoff_s,
        )
        return max(0.0, ready_at - t)

    def next_input(self, now: float | None = None) -> UserInput | None:
        """The best waiting input if chat may speak now, else None; taking it counts as a turn."""
        t = self._now() if now is None else now
        self._expire(t)
        if not self._queue or not self.chat_may_speak(t):
            return None
        entry = self._take(0)
        self._last_chat_turn = t
        return entry.item


def _strip_keyword(text: str, keyword: str) -> str | None:
    """The message without a leading command keyword, or None when the keyword is absent."""
    kw = keyword.strip()
    if not kw:
        return text
    if text.casefold().startswith(kw.casefold()):
        rest = text[len(kw):]
        if not rest or not (rest[0].isalnum() or rest[0] == "_"):
            return rest.strip()
    if re.search(rf"(?<!\w){re.escape(kw)}(?!\w)", text, re.IGNORECASE):
        return text
    return None


def truncate(text: str, limit: int) -> str:
    """Shorten at a word boundary with an ellipsis, so the model never sees half a word."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space >= limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,;:-") + "…"


def describe_event(event: StreamEvent) -> str:
    """A plain description of a channel event, as data for the prompter (never instructions)."""
    text = event.text.strip()
    if event.kind == "raid":
        base = f"Raided the channel with {event.amount} viewers."
    elif event.kind == "subscribe":
        base = "Subscribed to the channel."
    elif event.kind == "gift_sub":
        n = max(event.amount, 1)
        base = f"Gifted {n} subscription{'s' if n != 1 else ''}."
    elif event.kind == "cheer":
        base = f"Cheered {event.amount} bits."
    elif event.kind == "redemption":
        base = f"Redeemed {event.reward!r}."
    else:
        base = "Followed the channel."
    return f"{base} Message: {text}" if text else base
