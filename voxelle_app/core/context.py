"""The parts of a running Voxelle that the UI and the command line are handed.

Built only by ``bootstrap`` (the composition root); nothing reaches for it globally.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path

from voxelle_app.core.audio.engine import AudioEngine
from voxelle_app.core.bus import EventBus
from voxelle_app.core.control import AvatarControl, DiscordAccount, Switchable, TwitchAccount
from voxelle_app.core.hearing import Hearing
from voxelle_app.core.llm import LanguageModel
from voxelle_app.core.logs import Redactor
from voxelle_app.core.models import ModelManager
from voxelle_app.core.paths import AppPaths
from voxelle_app.core.pipeline import Director
from voxelle_app.core.prompter.persona import PersonaStore
from voxelle_app.core.safety import Blocklist, InputSelector, load_blocklist
from voxelle_app.core.secrets import SecretStore
from voxelle_app.core.settings import Settings, SettingsStore
from voxelle_app.core.voice import Voice


@dataclass
class AppContext:
    paths: AppPaths
    store: SettingsStore
    settings: Settings
    bus: EventBus
    redactor: Redactor
    secrets: SecretStore
    persona: PersonaStore
    audio: AudioEngine
    hearing: Hearing
    voice: Voice
    llm: LanguageModel
    director: Director
    selector: InputSelector
    models: ModelManager | None  # None when the manifest could not be read (see messages)
    log_file: Path
    messages: list[str] = field(default_factory=list)  # startup notices for the user
    integrations: list[Switchable] = field(default_factory=list)
    twitch_account: TwitchAccount | None = None
    discord_account: DiscordAccount | None = None
    avatar: AvatarControl | None = None

    def is_enabled(self, integration: str) -> bool:
        """``<integration>.enabled`` in settings (twitch, discord, vtube_studio)."""
        return bool(getattr(getattr(self.settings, integration, None), "enabled", False))

    def save_settings(self) -> None:
        self.store.save(self.settings)

    @property
    def blocklist(self) -> Blocklist:
        return self.selector.blocklist

    def reload_blocklist(self) -> Blocklist:
        """After the streamer edits their list: one new matcher for what is read and said."""
        blocklist = load_blocklist(self.settings.safety)
        self.selector.blocklist = blocklist
        self.director.check_sentence = blocklist.check
        return blocklist

    async def load_models(self) -> bool:
        """Load every model concurrently (each in its own worker); True if all loaded."""
        results = await asyncio.gather(self.hearing.load(), self.voice.load(), self.llm.load())
        return all(results)

    async def stop_core(self) -> None:
        """Stop the conversation, the devices and the model workers."""
        await self.director.stop()
        await self.audio.stop()
        await self.hearing.stop()
        self.voice.shutdown()
        self.llm.shutdown()
