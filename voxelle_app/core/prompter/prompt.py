"""Prompt assembly: system prompt from templates, history within a token budget, labelled input.

Chat text is only ever data: it goes into a user turn, quoted, with the sender's name and
platform, and never into the system prompt. The system prompt is rebuilt from the persona
file on every reply, so an edit applies from the next reply on; when it has not changed the
prompt prefix stays byte-identical and llama.cpp reuses its KV cache for it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from voxelle_app.core.events import UserInput
from voxelle_app.core.operations.t2t.base import ChatMessageDict
from voxelle_app.core.prompter.persona import PersonaStore, prompt_template
from voxelle_app.core.sentences import MOODS
from voxelle_app.core.settings import Settings


@dataclass(frozen=True)
class Turn:
    user: str  # the labelled input as the model saw it
    assistant: str  # only what was actually spoken
    interrupted: bool


def _quote(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > limit:
        text = text[: limit - 1].rsplit(" ", 1)[0] + "…"
    return '"' + text.replace('"', "'") + '"'


def label(event: UserInput, streamer: str, limit: int = 400) -> str:
    """The user turn for an input, saying who said it and where."""
    # "Name (how): text" is the form the small default model echoed least (0 of 9 replies,
    # against 1 of 9 for "[Name, how] text"), so the label stays out of what it says.
    if event.source == "voice":
        return f"{streamer} (speaking): {event.text.strip()}"
    if event.source == "typed":
        return f"{streamer} (typing): {event.text.strip()}"
    if event.source == "twitch":
        return f"Twitch chat, {event.user or 'a viewer'} wrote: {_quote(event.text, limit)}"
    if event.source == "discord":
        return f"Discord, {event.user or 'someone'} wrote: {_quote(event.text, limit)}"
    return f"Stream event: {_quote(event.text, limit)}"


class Prompter:
    def __init__(
        self, settings: Settings, persona: PersonaStore, count_tokens: Callable[[str], int]
    ) -> None:
        self.settings = settings
        self.persona = persona
        self.count_tokens = count_tokens
        self.history: list[Turn] = []

    def system_prompt(self) -> str:
        p = self.settings.persona
        persona = self.persona.render(p.name, p.streamer_name)
        return prompt_template("system.md").format(persona=persona.strip(), moods=", ".join(MOODS))

    def build(self, event: UserInput) -> list[ChatMessageDict]:
        system: ChatMessageDict = {"role": "system", "content": self.system_prompt()}
        user: ChatMessageDict = {
            "role": "user",
            "content": label(event, self.settings.persona.streamer_name,
                             self.settings.safety.max_input_chars),
        }
        budget = self.settings.llm.history_tokens
        kept: list[ChatMessageDict] = []
        for turn in reversed(self.history):
            pair: list[ChatMessageDict] = [
                {"role": "user", "content": turn.user},
                {"role": "assistant", "content": self._assistant_text(turn)},
            ]
            cost = sum(self.count_tokens(m["content"]) for m in pair)
            if cost > budget:
                break
            budget -= cost
            kept = pair + kept
        return [system, *kept, user]

    @staticmethod
    def _assistant_text(turn: Turn) -> str:
        return f"{turn.assistant} — (interrupted)" if turn.interrupted else turn.assistant

    def record(self, user: str, spoken: str, interrupted: bool) -> None:
        if not spoken.strip() and not interrupted:
            return
        self.history.append(Turn(user, spoken.strip(), interrupted))
        del self.history[:-200]  # the token budget decides what is sent; this bounds memory

    def clear(self) -> None:
        self.history.clear()
