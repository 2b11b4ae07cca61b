"""Streamed tokens → speakable sentences, as early as it is safe to cut.

A sentence ends at . ! ? … (or a line break) followed by a space and a plausible start of
the next one. Abbreviations (Mr. Dr. e.g. etc.), numbers (3.5, v1.2), ellipses inside a
sentence and emoji do not cut. Text with no punctuation is cut at a length cap, at the last
comma or space. The mood tag a persona asks for ("[happy] ...") is taken off the front.
Emoji and markdown are kept for the transcript but removed from what is spoken.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "approx",
    "no", "vol", "fig", "inc", "ltd", "co", "jan", "feb", "mar", "apr", "jun", "jul", "aug",
    "sep", "sept", "oct", "nov", "dec", "mt", "ft", "lb", "min", "max", "u.s", "u.k", "a.m", "p.m",
}
MOODS = ("happy", "excited", "sad", "surprised", "angry", "thinking", "neutral")
_MOOD_TAG = re.compile(r"^\s*[\[(*]\s*([a-zA-Z]+)\s*[\])*]\s*:?\s*")
_EMOJI = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\u200d\ufe0f\u2b50\u2b06"
    "\u2934\u2935\u3030\u303d\u3297\u3299]+"
)
_MARKDOWN = re.compile(r"[*_`#>~]+")
_ACTION = re.compile(r"\*[^*\n]{1,80}\*")  # *waves at chat*: role-play, not speech
_ENDERS = ".!?…"


def speakable(text: str) -> str:
    """What TTS should say: no *stage directions*, emoji or markdown marks; single spaces."""
    text = _ACTION.sub(" ", text)
    text = _EMOJI.sub(" ", text)
    text = _MARKDOWN.sub("", text)
    return re.sub(r"\s+", " ", text).strip()


def split_mood(text: str) -> tuple[str, str]:
    """("[happy] Hi!" → ("happy", "Hi!")); unknown tags stay in the text."""
    m = _MOOD_TAG.match(text)
    if m and m.group(1).lower() in MOODS:
        return m.group(1).lower(), text[m.end():]
    return "", text


def guess_mood(text: str) -> str:
    """A small fallback when the model gave no tag: enough to move an avatar's face."""
    t = text.lower()
    if re.search(r"\b(sorry|sad|miss|unfortunately|oh no)\b", t):
        return "sad"
    if re.search(r"\b(wow|whoa|what\?|no way|really\?)\b", t):
        return "surprised"
    if re.search(r"\b(angry|annoying|hate|ugh)\b", t):
        return "angry"
    if t.count("!") >= 2 or re.search(r"\b(amazing|awesome|let's go|hype|incredible)\b", t):
        return "excited"
    if re.search(r"\b(haha|lol|great|love|thanks|thank you|yay|nice|fun)\b", t):
        return "happy"
    if re.search(r"\b(hmm|maybe|i think|let me think|perhaps)\b", t):
        return "thinking"
    return "neutral"


@dataclass
class SentenceSplitter:
    max_chars: int = 180  # no punctuation for this long: cut anyway
    min_chars: int = 8  # never speak a fragment shorter than this on its own
    #: the first piece may end at a clause (", " "; " ": ") once it is this long, so the
    #: voice can start while the model still writes the rest of the first sentence
    eager_first: bool = False
    eager_chars: int = 24

    def __post_init__(self) -> None:
        self._buf = ""
        self._cuts = 0

    def push(self, piece: str) -> list[str]:
        self._buf += piece
        out: list[str] = []
        while True:
            cut = self._find_cut()
            if cut is None:
                break
            sentence, self._buf = self._buf[:cut].strip(), self._buf[cut:].lstrip()
            if sentence:
                out.append(sentence)
                self._cuts += 1
        return out

    def flush(self) -> list[str]:
        rest, self._buf = self._buf.strip(), ""
        return [rest] if rest else []

    def _find_cut(self) -> int | None:
        buf = self._buf
        for m in re.finditer(r"[.!?…]+[\"'”’)\]]*(?=\s)|\n+", buf):
            end = m.end()
            if end >= len(buf):
                return None  # need the next character to decide
            if m.group().startswith("\n"):
                if buf[:m.start()].strip():
                    return end
                continue
            if len(buf[:end].strip()) < self.min_chars:
                continue
            if self._is_abbreviation_or_number(buf, m.start(), m.group()):
                continue
            nxt = buf[end:].lstrip()
            if not nxt:
                return None
            if nxt[0].islower() and m.group()[0] == ".":
                continue  # "e.g. this" or a stray period mid-sentence
            return end
        if self.eager_first and self._cuts == 0:
            for m in re.finditer(r"[,;:](?=\s+\S)", buf):
                piece = buf[: m.end()]
                if len(piece.strip()) >= self.eager_chars and len(piece.split()) >= 4 and not (
                    re.search(r"\d$", buf[: m.start()]) and re.match(r",\d", buf[m.start():])
                ):
                    return m.end()
        if len(buf) > self.max_chars:
            window = buf[: self.max_chars]
            for sep in (", ", "; ", ": ", " - ", " "):
                i = window.rfind(sep)
                if i > self.max_chars // 3:
                    return i + len(sep)
            return self.max_chars
        return None

    @staticmethod
    def _is_abbreviation_or_number(buf: str, dot: int, mark: str) -> bool:
        if mark[0] != ".":
            return False
        if mark.startswith("..") and not mark.startswith("..."):
            return False
        word = re.search(r"([A-Za-z.]+)$", buf[:dot])
        if word:
            w = word.group(1).lower().strip(".")
            if w in ABBREVIATIONS or (len(w) == 1 and w.isalpha() and w not in ("a", "i")):
                return True
        return bool(re.search(r"\d$", buf[:dot])) and bool(re.match(r"\.\d", buf[dot:]))
