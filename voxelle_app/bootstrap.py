"""The composition root: settings → core → integrations → UI. The only module that knows
every concrete class."""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from voxelle_app.core.audio.echo import EchoGuard
from voxelle_app.core.audio.engine import AudioEngine
from voxelle_app.core.bus import EventBus
from voxelle_app.core.context import AppContext
from voxelle_app.core.control import AudioSink, Switchable
from voxelle_app.core.errors import ConfigurationError
from voxelle_app.core.hearing import Hearing
from voxelle_app.core.llm import LanguageModel
from voxelle_app.core.logs import Category, Redactor, setup_logging
from voxelle_app.core.models import DEFAULT_MANIFEST, ModelManager
from voxelle_app.core.paths import AppPaths
from voxelle_app.core.pipeline import Director
from voxelle_app.core.prompter.persona import PersonaStore
from voxelle_app.core.prompter.prompt import Prompter
from voxelle_app.core.safety import InputSelector, load_blocklist
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
    blocklist = load_blocklist(settings.safety)
    selector = InputSelector(settings.safety, blocklist, cohost_name=settings.persona.name,
                             now=time.monotonic, on_drop=bus.publish)
    director = Director(settings, bus, prompter, llm, voice, audio.playback,
                        check_sentence=blocklist.check, selector=selector)
    wire_echo_guard(settings, audio, hearing, director)
    try:
        models: ModelManager | None = ModelManager(
            paths.models_dir, DEFAULT_MANIFEST, settings.models.endpoint or None
        )
    except ConfigurationError as exc:
        models = None
        messages.append(exc.user_message())
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
        selector=selector,
        models=models,
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
    """Twitch, Discord and VTube Studio, handed to the context (the UI reaches them only
    through core.control protocols); ``enabled_only`` for headless runs."""
    from voxelle_app.integrations.discord_bot import DiscordBot
    from voxelle_app.integrations.twitch_chat import TwitchChat
    from voxelle_app.integrations.vtube_studio import VTubeStudio

    s = ctx.settings
    twitch = TwitchChat(ctx.bus, s.twitch, ctx.secrets, persona_name=lambda: s.persona.name)
    discord = DiscordBot(s.discord, ctx.bus, ctx.secrets, ctx.director)
    vts = VTubeStudio(s.vtube_studio, ctx.bus, ctx.secrets)
    ctx.integrations = [twitch, discord, vts]
    ctx.twitch_account, ctx.discord_account, ctx.avatar = twitch, discord, vts
    apply_voice_output(ctx, discord.voice_sink)
    return [i for i in ctx.integrations if not enabled_only or ctx.is_enabled(i.name)]


def apply_voice_output(ctx: AppContext, discord_sink: AudioSink) -> None:
    """Where the co-host's voice goes: local speakers, the Discord voice channel, or both."""
    where = ctx.settings.discord.voice_output
    sinks = ctx.director.sinks
    if where in ("discord", "both") and discord_sink not in sinks:
        sinks.append(discord_sink)
    elif where == "local" and discord_sink in sinks:
        sinks.remove(discord_sink)
    ctx.audio.playback.muted = where == "discord"


def run_gui(ctx: AppContext) -> int:
    from voxelle_app.ui.app import run_app

    build_integrations(ctx)
    return run_app(ctx)
