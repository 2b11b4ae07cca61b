"""The composition root: settings → core → integrations → UI. The only module that knows
every concrete class."""

from __future__ import annotations

import logging
import os

import numpy as np

from voxelle_app.core.audio.echo import EchoGuard
from voxelle_app.core.audio.engine import AudioEngine
from voxelle_app.core.bus import EventBus
from voxelle_app.core.context import AppContext
from voxelle_app.core.control import Switchable
from voxelle_app.core.hearing import Hearing
from voxelle_app.core.llm import LanguageModel
from voxelle_app.core.logs import Category, Redactor, setup_logging
from voxelle_app.core.paths import AppPaths
from voxelle_app.core.pipeline import Director
from voxelle_app.core.prompter.persona import PersonaStore
from voxelle_app.core.prompter.prompt import Prompter
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import Settings, SettingsStore
from voxelle_app.core.voice import Voice

_log = logging.getLogger("voxelle.bootstrap")


def build_context(
    environ: dict[str, str] | None = None,
    stderr_level: int = logging.WARNING,
) -> AppContext:
    env = dict(os.environ if environ is None else environ)
    paths = AppPaths.from_env(env)
    paths.ensure()
    bus = EventBus()
    redactor = Redactor()
    log_file = setup_logging(paths.log_dir, redactor, bus, stderr_level=stderr_level)
    store = SettingsStore(paths.settings_file, env)
    loaded = store.load()
    for message in loaded.messages:
        _log.warning(message, extra={"category": Category.ERROR})
    secrets = SecretStore(paths.secrets_file, redactor)
    messages = list(loaded.messages)
    if secrets.warning:
        _log.info(secrets.warning, extra={"category": Category.SECURITY})
    settings = loaded.settings
    if not paths.settings_file.exists():
        store.save(settings)
    audio = AudioEngine(settings.audio, bus)
    hearing = Hearing(settings, bus)
    audio.add_listener(hearing.feed)
    voice = Voice(settings, bus)
    llm = LanguageModel(settings, bus)
    persona = PersonaStore(paths.persona_file)
    prompter = Prompter(settings, persona, llm.count_tokens)
    director = Director(settings, bus, prompter, llm, voice, audio.playback)
    wire_echo_guard(settings, audio, hearing, director)
    return AppContext(
        paths=paths,
        store=store,
        settings=settings,
        bus=bus,
        redactor=redactor,
        secrets=secrets,
        persona=persona,
        audio=audio,
        hearing=hearing,
        voice=voice,
        llm=llm,
        director=director,
        log_file=log_file,
        messages=messages,
    )


def wire_echo_guard(
    settings: Settings, audio: AudioEngine, hearing: Hearing, director: Director
) -> None:
    """Keep the co-host from hearing itself: while it speaks, the microphone is ignored
    (barge-in off) or only audio that does not match what is playing counts (barge-in on)."""
    guard = EchoGuard(audio.playback.rate)
    director.block_observers.append(guard.played)

    def is_echo(block: np.ndarray) -> bool:
        if director.state != "speaking" and not audio.playback.busy:
            return False
        if not settings.audio.barge_in:
            return True
        return guard.is_echo(block)

    hearing.is_echo = is_echo


def build_integrations(ctx: AppContext, enabled_only: bool = False) -> list[Switchable]:
    """The integrations this build offers (each is optional), as the UI and CLI see them."""
    found: list[Switchable] = []
    return [i for i in found if not enabled_only or _enabled(ctx, i.name)]


def _enabled(ctx: AppContext, name: str) -> bool:
    return bool(getattr(getattr(ctx.settings, name), "enabled", False))


def run_gui(ctx: AppContext) -> int:
    from voxelle_app.ui.app import run_app

    return run_app(ctx)
