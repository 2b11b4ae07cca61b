from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest

from voxelle_app.core.paths import AppPaths, atomic_write_text
from voxelle_app.core.settings import SCHEMA_VERSION, Settings, SettingsStore


def store_at(home: Path, environ: dict[str, str] | None = None) -> SettingsStore:
    return SettingsStore(AppPaths.from_env({"VOXELLE_HOME": str(home)}).settings_file, environ or {})


def test_voxelle_home_puts_every_folder_under_it(tmp_path: Path) -> None:
    paths = AppPaths.from_env({"VOXELLE_HOME": str(tmp_path)})
    for folder in (paths.config_dir, paths.data_dir, paths.log_dir, paths.cache_dir):
        assert folder.is_relative_to(tmp_path)
    assert paths.settings_file.parent == paths.config_dir


def test_round_trip_keeps_every_value(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    settings = store.load().settings
    settings.llm.temperature = 0.25
    settings.audio.input_device = "USB Mic (Ünïcode)"
    settings.safety.blocklist = ["one", "two words"]
    settings.effects.preset = "radio"
    store.save(settings)
    again = store_at(tmp_path).load()
    assert again.messages == []
    assert again.settings == settings
    assert tomllib.loads(store.path.read_text())["schema_version"] == SCHEMA_VERSION


def test_env_override_applies_but_is_not_saved(tmp_path: Path) -> None:
    store_at(tmp_path).save(Settings())
    env = {
        "VOXELLE_LLM__TEMPERATURE": "0.1",
        "VOXELLE_TWITCH__ENABLED": "true",
        "VOXELLE_PERSONA__NAME": "123",  # a str field stays a str
        "VOXELLE_NOTASECTION__X": "1",
    }
    store = store_at(tmp_path, env)
    settings = store.load().settings
    assert settings.llm.temperature == 0.1
    assert settings.twitch.enabled is True
    assert settings.persona.name == "123"
    settings.llm.top_p = 0.5
    store.save(settings)
    on_disk = tomllib.loads(store.path.read_text())
    assert on_disk["llm"]["top_p"] == 0.5
    assert on_disk["llm"]["temperature"] == Settings().llm.temperature
    assert on_disk["twitch"]["enabled"] is False


def test_invalid_env_override_is_reported_not_fatal(tmp_path: Path) -> None:
    result = store_at(tmp_path, {"VOXELLE_LLM__TEMPERATURE": "hot"}).load()
    assert result.settings.llm.temperature == Settings().llm.temperature
    assert any("VOXELLE_" in m for m in result.messages)


@pytest.mark.parametrize(
    "content",
    [
        "this is [not toml",
        "[llm]\ntemperature = 'very'\n",
        "[audio]\nvad_threshold = 7\n",
        "schema_version = 999\n",
    ],
)
def test_broken_file_is_kept_aside_and_defaults_used(tmp_path: Path, content: str) -> None:
    store = store_at(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text(content)
    result = store.load()
    assert result.settings == Settings()
    assert result.kept_aside is not None and result.kept_aside.read_text() == content
    assert not store.path.exists()
    assert str(result.kept_aside) in result.messages[0]
    # Saving afterwards never touches the kept file.
    store.save(result.settings)
    assert result.kept_aside.read_text() == content


def test_migration_from_v1_moves_vad_settings(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("[vad]\nthreshold = 0.7\nsilence_ms = 900\n[llm]\ntemperature = 0.3\n")
    result = store.load()
    assert result.messages == []
    assert result.settings.audio.vad_threshold == 0.7
    assert result.settings.audio.vad_end_silence_ms == 900
    assert result.settings.llm.temperature == 0.3
    store.save(result.settings)
    assert tomllib.loads(store.path.read_text())["schema_version"] == SCHEMA_VERSION


def test_atomic_write_leaves_old_file_when_interrupted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "settings.toml"
    target.write_text("old = 1\n")

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        atomic_write_text(target, "new = 2\n")
    assert target.read_text() == "old = 1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["settings.toml"]


def test_check_reports_without_moving(tmp_path: Path) -> None:
    store = store_at(tmp_path)
    store.path.parent.mkdir(parents=True)
    store.path.write_text("[llm]\ntemperature = 'x'\n")
    assert store.check() is not None and "temperature" in store.check()  # type: ignore[operator]
    assert store.path.exists()
