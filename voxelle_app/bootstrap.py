"""The composition root: settings → core → integrations → UI. The only module that knows
every concrete class."""

from __future__ import annotations

import logging
import os

from voxelle_app.core.audio.engine import AudioEngine
from voxelle_app.core.bus import EventBus
from voxelle_app.core.context import AppContext
from voxelle_app.core.hearing import Hearing
from voxelle_app.core.logs import Category, Redactor, setup_logging
from voxelle_app.core.paths import AppPaths
from voxelle_app.core.prompter.persona import PersonaStore
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import SettingsStore
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
    return AppContext(
        paths=paths,
        store=store,
        settings=settings,
        bus=bus,
        redactor=redactor,
        secrets=secrets,
        persona=PersonaStore(paths.persona_file),
        audio=audio,
        hearing=hearing,
        voice=Voice(settings, bus),
        log_file=log_file,
        messages=messages,
    )


def run_gui(ctx: AppContext) -> int:
    from voxelle_app.ui.app import run_app

    return run_app(ctx)
