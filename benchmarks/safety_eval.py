"""Measure the blocklist: recall on obfuscated terms, false positives on innocent text, speed.

    .venv/bin/python benchmarks/safety_eval.py [--blocklist FILE] [--words FILE] [--show]

Uses the corpora of ``tests/unit/test_safety_blocklist.py`` (the test asserts the same
thresholds), lists every miss and false positive with ``--show``, and reports separately a set
of innocent sentences whose words are spelled exactly like a blocked term ("a chink in the
armor"): no word list can tell those apart, so they measure the list's choices, not the matcher.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.unit.test_safety_blocklist import (  # noqa: E402
    innocent_corpus,
    measure,
    obfuscated_corpus,
)
from voxelle_app.core.safety import Blocklist, default_terms, read_terms  # noqa: E402

HOMOGRAPHS = [
    "we were at the Cock and Bull pub",
    "the fag end of the year",
    "the ass brayed at the farmer",
    "my pussy cat is asleep",
    "a chink in the armor",
    "hit the coon hound",
    "rape of the lock is a poem",
    "I'll kill myself laughing",
    "jerk off the road",
    "the 1488 AD battle",
]


def _per_call_us(blocklist: Blocklist, texts: list[str], rounds: int = 10) -> list[float]:
    """Microseconds per check, the best of five batches (other processes share the cores)."""
    for text in texts:
        blocklist.check(text)  # build the lazily compiled patterns first
    out = []
    for text in texts:
        best = float("inf")
        for _ in range(5):
            t0 = time.perf_counter()
            for _ in range(rounds):
                blocklist.check(text)
            best = min(best, (time.perf_counter() - t0) / rounds)
        out.append(best * 1e6)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocklist", type=Path, help="add this file's terms to the default")
    parser.add_argument("--show", action="store_true", help="list misses and false positives")
    parser.add_argument(
        "--words", type=Path, help="also check every word of a word list (one per line)"
    )
    args = parser.parse_args()

    terms = default_terms()
    if args.blocklist:
        terms += read_terms(args.blocklist.read_text(encoding="utf-8"))
    t0 = time.perf_counter()
    blocklist = Blocklist(terms)
    build_ms = (time.perf_counter() - t0) * 1e3

    figures = measure(blocklist)
    print(f"terms: {len(blocklist)} (built in {build_ms:.1f} ms)")
    print(f"recall: {figures.recall:.4f}  ({figures.caught}/{figures.blocked_total})")
    print(
        f"false-positive rate: {figures.false_positive_rate:.4f}  "
        f"({figures.flagged}/{figures.innocent_total})"
    )
    homograph_hits = [h for h in HOMOGRAPHS if not blocklist.check(h).allowed]
    print(f"homographs flagged (not counted above): {len(homograph_hits)}/{len(HOMOGRAPHS)}")

    texts = [s for _, _, s in obfuscated_corpus()] + innocent_corpus()
    times = _per_call_us(blocklist, texts)
    print(
        f"check(): median {statistics.median(times):.1f} us, "
        f"p99 {statistics.quantiles(times, n=100)[98]:.1f} us, max {max(times):.1f} us "
        f"over {len(texts)} sentences"
    )
    worst = {
        "5,000 chars of chat": ("this is a perfectly normal sentence, class! " * 120)[:5000],
        "5,000 chars of spaced letters": ("a s s " * 900)[:5000],
        "5,000 chars of masks": ("f*c* s**t " * 500)[:5000],
    }
    for name, text in worst.items():
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            blocklist.check(text)
            best = min(best, time.perf_counter() - t0)
        print(f"check() on {name}: {best * 1e3:.2f} ms")

    if args.words:
        words = sorted(set(args.words.read_text(encoding="utf-8").split()))
        flagged = [(w, blocklist.check(w).matched) for w in words if not blocklist.check(w).allowed]
        print(f"word list: {len(flagged)}/{len(words)} words flagged")
        if args.show:
            for word, matched in flagged:
                print(f"  {word} -> {', '.join(matched)}")

    if args.show:
        print("\nmisses:")
        for word, obfuscation, sentence in figures.misses:
            print(f"  {word!r:<16} {obfuscation:<24} {sentence!r}")
        print("false positives:")
        for sentence, matched in figures.false_positives:
            print(f"  {sentence!r} -> {', '.join(matched)}")
        print("homographs flagged:")
        for sentence in homograph_hits:
            print(f"  {sentence!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
