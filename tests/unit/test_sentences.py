from __future__ import annotations

import pytest

from voxelle_app.core.sentences import SentenceSplitter, guess_mood, speakable, split_mood


def split_streamed(text: str, step: int = 3, **kw: int) -> list[str]:
    s = SentenceSplitter(**kw)
    out: list[str] = []
    for i in range(0, len(text), step):
        out += s.push(text[i : i + step])
    return out + s.flush()


@pytest.mark.parametrize("step", [1, 2, 5, 100])
def test_splits_at_sentence_ends_whatever_the_token_sizes(step: int) -> None:
    text = "Hello chat! How are you all doing? I am great. Let's play."
    assert split_streamed(text, step) == [
        "Hello chat!", "How are you all doing?", "I am great.", "Let's play."
    ]


def test_first_sentence_is_released_before_the_reply_ends() -> None:
    s = SentenceSplitter()
    assert s.push("Welcome back, everyone.") == []  # "everyone.5" could still follow
    assert s.push(" Tonight") == ["Welcome back, everyone."]  # one token later, not at the end
    assert s.push(" we play") == []


def test_abbreviations_and_numbers_do_not_cut() -> None:
    text = ("Dr. Smith and Mr. Jones met at 3.30 p.m. on St. Patrick's day. "
            "Version 2.5 is out, e.g. with new maps. It costs $4.99 today.")
    assert split_streamed(text) == [
        "Dr. Smith and Mr. Jones met at 3.30 p.m. on St. Patrick's day.",
        "Version 2.5 is out, e.g. with new maps.",
        "It costs $4.99 today.",
    ]


def test_ellipsis_and_quotes() -> None:
    assert split_streamed('Well... I guess so. He said "run!" Then he ran.') == [
        "Well... I guess so.", 'He said "run!"', "Then he ran.",
    ]


def test_emoji_do_not_break_and_are_not_spoken() -> None:
    parts = split_streamed("That was amazing 🎉🔥! Let's go 😂 again.")
    assert parts == ["That was amazing 🎉🔥!", "Let's go 😂 again."]
    assert speakable(parts[0]) == "That was amazing !" or speakable(parts[0]) == "That was amazing!"
    assert "😂" not in speakable(parts[1])


def test_text_without_punctuation_is_cut_by_length() -> None:
    words = " ".join(["word"] * 120)
    parts = split_streamed(words, max_chars=100)
    assert len(parts) >= 5
    assert all(len(p) <= 100 for p in parts)
    assert " ".join(parts).split() == words.split()


def test_short_fragments_wait_for_more() -> None:
    assert split_streamed("Oh. Hi there. I see you.") == ["Oh. Hi there.", "I see you."]


def test_mood_tag_is_taken_off_the_front() -> None:
    assert split_mood("[happy] Great to see you!") == ("happy", "Great to see you!")
    assert split_mood("(Excited): Let's go!") == ("excited", "Let's go!")
    assert split_mood("[note] keep it") == ("", "[note] keep it")
    assert guess_mood("Wow, no way!") == "surprised"
    assert guess_mood("Sorry about that.") == "sad"
    assert guess_mood("Thanks for the follow, I love it") == "happy"


def test_eager_first_piece_ends_at_a_clause_then_sentences_resume() -> None:
    s = SentenceSplitter(eager_first=True)
    text = ("That's a really great question, and honestly I have thought about it a lot. "
            "Let's try the castle, then the forest.")
    out: list[str] = []
    for i in range(0, len(text), 4):
        out += s.push(text[i : i + 4])
    out += s.flush()
    assert out == ["That's a really great question,",
                   "and honestly I have thought about it a lot.",
                   "Let's try the castle, then the forest."]
    short = SentenceSplitter(eager_first=True)
    assert short.push("Oh, hi there, friend. ") == []  # too short to cut at a comma
    assert short.flush() == ["Oh, hi there, friend."]


def test_stage_directions_are_shown_but_not_spoken() -> None:
    assert speakable("*waves at chat* Hello everyone!") == "Hello everyone!"
    assert speakable("That is *so* cool") == "That is cool"
    assert speakable("2 * 3 = 6") == "2 3 = 6"
