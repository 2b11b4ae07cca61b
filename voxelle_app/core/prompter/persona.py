"""The persona text the streamer edits: a default in ``prompts/``, their copy in the config dir."""

from __future__ import annotations

import functools
import string
from pathlib import Path

from voxelle_app.core.errors import ValidationError
from voxelle_app.core.paths import REPO_ROOT, atomic_write_text

PROMPTS_DIR = REPO_ROOT / "prompts"
PLACEHOLDERS = {"name", "streamer"}
MAX_PERSONA_CHARS = 6000


@functools.cache
def prompt_template(name: str) -> str:
    """A shipped template from ``prompts/`` (``persona.md``, ``system.md``)."""
    return (PROMPTS_DIR / name).read_text(encoding="utf-8")


def validate_persona(text: str) -> list[str]:
    """Problems that would make the persona unusable, as sentences; empty when fine."""
    problems = []
    if not text.strip():
        problems.append("The persona is empty: describe who the co-host is.")
    if len(text) > MAX_PERSONA_CHARS:
        problems.append(
            f"The persona is {len(text)} characters long; keep it under {MAX_PERSONA_CHARS} "
            "so it leaves room for the conversation."
        )
    try:
        names = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        problems.append(
            f"The persona has a stray brace ({exc}). Write {{{{ or }}}} for a literal brace."
        )
    else:
        unknown = sorted(n for n in names if n not in PLACEHOLDERS)
        if unknown:
            allowed = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            problems.append(
                f"Unknown placeholder {', '.join('{' + u + '}' for u in unknown)}; "
                f"the persona may use {allowed}."
            )
    return problems


class PersonaStore:
    def __init__(self, user_file: Path, default_file: Path = PROMPTS_DIR / "persona.md") -> None:
        self.user_file = user_file
        self.default_file = default_file
        self._cached: str | None = None  # the loop asks for it often; only save() changes it

    def default(self) -> str:
        return self.default_file.read_text(encoding="utf-8")

    def load(self) -> str:
        if self._cached is None:
            self._cached = (self.user_file.read_text(encoding="utf-8") if self.user_file.exists()
                            else self.default())
        return self._cached

    def save(self, text: str) -> None:
        problems = validate_persona(text)
        if problems:
            raise ValidationError(" ".join(problems), component="persona")
        atomic_write_text(self.user_file, text)
        self._cached = text

    def render(self, name: str, streamer: str) -> str:
        return self.load().format(name=name, streamer=streamer)
