"""The model manager against a real HTTP server on 127.0.0.1 that speaks the Hub's protocol.

Nothing here reaches the internet: every source points at ``tests/fake_hf.py``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import huggingface_hub
import huggingface_hub.constants
import pytest
from tqdm import tqdm

from tests.fake_hf import FakeHub
from voxelle_app.core.errors import VoxelleError
from voxelle_app.core.models import (
    DEFAULT_MANIFEST,
    MARKER,
    ChecksumMismatchError,
    DiskFullError,
    DownloadCancelled,
    HFSource,
    ManifestError,
    ModelBusyError,
    ModelDownloadError,
    ModelManager,
    ModelNotInstalledError,
    NetworkError,
    UnknownModelError,
    load_manifest,
    models_command,
)
from voxelle_app.core.paths import AppPaths

VOICE = os.urandom(300_000)  # stands in for a piper .onnx
VOICE_JSON = b'{"audio": {"sample_rate": 22050}}'
WEIGHTS = os.urandom(200_000)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def hub_online(monkeypatch: pytest.MonkeyPatch) -> None:
    """huggingface_hub reads HF_HUB_OFFLINE once at import; make both agree on "online"."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)


@pytest.fixture
def hub() -> Iterator[FakeHub]:
    with FakeHub() as h:
        h.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx", VOICE,
              revision="v1.0.0")
        h.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx.json", VOICE_JSON,
              revision="v1.0.0")
        yield h


@pytest.fixture
def models_dir(voxelle_home: Path) -> Path:
    return AppPaths.from_env().models_dir


def write_manifest(folder: Path, body: str) -> Path:
    path = folder / "manifest.toml"
    path.write_text("schema_version = 1\n" + body, encoding="utf-8")
    return path


def voice_manifest(folder: Path, onnx_sha: str = "", onnx_size: int = 0) -> Path:
    return write_manifest(folder, f"""
[[model]]
name = "piper-test"
kind = "tts"
description = "a test voice"
source = "hf://rhasspy/piper-voices/en/en_US/test/medium@v1.0.0"
license = "MIT"
approx_mb = 1
  [[model.files]]
  path = "en_US-test-medium.onnx"
  size = {onnx_size}
  sha256 = "{onnx_sha}"
  [[model.files]]
  path = "en_US-test-medium.onnx.json"
""")


def url_manifest(folder: Path, base: str, sha256: str = "") -> Path:
    return write_manifest(folder, f"""
[[model]]
name = "tiny-llm"
kind = "llm"
source = "{base}"
  [[model.files]]
  path = "tiny.gguf"
  sha256 = "{sha256}"
""")


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[int, int]] = []

    def __call__(self, done: int, total: int) -> None:
        self.calls.append((done, total))


# --- downloads ---------------------------------------------------------------------------


def test_hf_model_downloads_verified_with_progress(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path, sha(VOICE), len(VOICE)), hub.endpoint)
    assert manager.status("piper-test").state == "available"
    progress = Progress()

    path = manager.download("piper-test", progress)

    assert path == models_dir / "piper-test" / "en_US-test-medium.onnx"
    assert path.read_bytes() == VOICE
    assert path.with_name("en_US-test-medium.onnx.json").read_bytes() == VOICE_JSON
    total = len(VOICE) + len(VOICE_JSON)
    assert progress.calls[-1] == (total, total)
    assert len(progress.calls) >= 2
    done = [d for d, _ in progress.calls]
    assert done == sorted(done)
    marker = json.loads((models_dir / "piper-test" / MARKER).read_text())
    files = {f["path"]: f for f in marker["files"]}
    assert files["en_US-test-medium.onnx"]["verified_by"] == "manifest"
    # The small git file has no pin and no LFS hash: its observed hash is recorded.
    assert files["en_US-test-medium.onnx.json"] == {
        "path": "en_US-test-medium.onnx.json", "size": len(VOICE_JSON), "sha256": sha(VOICE_JSON),
        "verified_by": "first-download",
    }
    assert marker["commit"] == hub.commit("rhasspy/piper-voices", "v1.0.0")
    assert manager.path_of("piper-test") == path
    [status] = manager.list()
    assert (status.state, status.path) == ("installed", path)
    assert not list((models_dir / "piper-test").glob("*.part*"))
    # The hub was asked the way huggingface_hub asks it; the bytes came from the "CDN".
    assert [r.method for r in hub.requests if r.server == "hub" and r.path.endswith(".onnx")] == ["HEAD"]
    assert len(hub.gets("/blobs/")) == 1


def test_already_installed_needs_no_network(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    manager.download("piper-test")
    hub.stop()
    assert manager.download("piper-test") == manager.path_of("piper-test")


def test_hub_lfs_hash_is_checked_when_the_manifest_pins_none(
    hub: FakeHub, models_dir: Path, tmp_path: Path
) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    manager.download("piper-test")
    marker = json.loads((models_dir / "piper-test" / MARKER).read_text())
    assert marker["files"][0]["verified_by"] == "hub"
    assert marker["files"][0]["sha256"] == sha(VOICE)


def test_file_altered_in_transit_is_refused_and_deleted(
    hub: FakeHub, models_dir: Path, tmp_path: Path
) -> None:
    served = hub.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx", VOICE,
                     revision="v1.0.0")
    served.tamper = bytes(reversed(VOICE))  # same size, other bytes
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)

    with pytest.raises(ChecksumMismatchError) as caught:
        manager.download("piper-test")

    assert "checksum" in str(caught.value) and "deleted" in str(caught.value)
    assert caught.value.hint
    folder = models_dir / "piper-test"
    assert not (folder / "en_US-test-medium.onnx").exists()
    assert not list(folder.glob("*.part*"))
    assert manager.status("piper-test").state == "available"
    # Once the file is served intact, the next attempt succeeds.
    served.tamper = None
    assert manager.download("piper-test").read_bytes() == VOICE


def test_pin_that_disagrees_with_the_hub_downloads_nothing(
    hub: FakeHub, models_dir: Path, tmp_path: Path
) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path, sha(b"another file")), hub.endpoint)
    with pytest.raises(ChecksumMismatchError, match="nothing was downloaded"):
        manager.download("piper-test")
    assert hub.gets("/blobs/") == []


def test_wrong_checksum_on_a_url_source_is_refused_and_removed(
    hub: FakeHub, models_dir: Path, tmp_path: Path
) -> None:
    hub.add_plain("llm/tiny.gguf", WEIGHTS)
    manager = ModelManager(models_dir, url_manifest(tmp_path, hub.plain_url("llm"), sha(b"x")))
    with pytest.raises(ChecksumMismatchError):
        manager.download("tiny-llm")
    assert not any((models_dir / "tiny-llm").glob("tiny.gguf*"))
    assert not manager.is_installed("tiny-llm")


def test_transfer_cut_midway_resumes_with_range(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    served = hub.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx", VOICE,
                     revision="v1.0.0")
    hub.cut(served, after=100_000)
    manager = ModelManager(models_dir, voice_manifest(tmp_path, sha(VOICE)), hub.endpoint)

    path = manager.download("piper-test")

    assert path.read_bytes() == VOICE
    first, second = hub.gets("/blobs/")
    assert "Range" not in first.headers
    assert second.headers["Range"] == "bytes=100000-"


def test_cancel_keeps_the_partial_and_a_later_download_resumes(
    hub: FakeHub, models_dir: Path, tmp_path: Path
) -> None:
    hub.chunk, hub.delay = 8 * 1024, 0.01
    manager = ModelManager(models_dir, voice_manifest(tmp_path, sha(VOICE)), hub.endpoint)
    cancel = threading.Event()

    def stop_midway(done: int, total: int) -> None:
        if done >= 50_000:
            cancel.set()

    with pytest.raises(DownloadCancelled) as caught:
        manager.download("piper-test", stop_midway, cancel)
    assert "resume" in caught.value.user_message()

    part = models_dir / "piper-test" / "en_US-test-medium.onnx.part"
    kept = part.stat().st_size
    assert 50_000 <= kept < len(VOICE)
    status = manager.status("piper-test")
    assert (status.state, status.partial_bytes) == ("partial", kept)

    hub.delay = 0.0
    progress = Progress()
    path = manager.download("piper-test", progress)

    assert path.read_bytes() == VOICE
    assert hub.gets("/blobs/")[-1].headers["Range"] == f"bytes={kept}-"
    assert progress.calls[0][0] == kept  # the bar starts where it stopped
    assert not part.exists()


def test_partial_of_an_older_version_is_not_mixed_in(
    hub: FakeHub, models_dir: Path, tmp_path: Path
) -> None:
    hub.chunk, hub.delay = 8 * 1024, 0.01
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    cancel = threading.Event()
    with pytest.raises(DownloadCancelled):
        manager.download("piper-test", lambda d, t: cancel.set() if d >= 40_000 else None, cancel)

    newer = os.urandom(len(VOICE))
    hub.add("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx", newer,
            revision="v1.0.0")
    hub.delay = 0.0
    assert manager.download("piper-test").read_bytes() == newer
    assert "Range" not in hub.gets("/blobs/")[-1].headers


def test_url_source_downloads_and_resumes(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    served = hub.add_plain("llm/tiny.gguf", WEIGHTS)
    hub.cut(served, after=64 * 1024)
    manager = ModelManager(models_dir, url_manifest(tmp_path, hub.plain_url("llm"), sha(WEIGHTS)))
    progress = Progress()

    path = manager.download("tiny-llm", progress)

    assert path == models_dir / "tiny-llm" / "tiny.gguf"
    assert path.read_bytes() == WEIGHTS
    first, second = hub.gets("/files/llm/tiny.gguf")
    assert "Range" not in first.headers
    assert second.headers["Range"] == f"bytes={64 * 1024}-"
    assert second.headers["If-Range"] == served.etag  # a changed file would be sent whole
    assert progress.calls[-1] == (len(WEIGHTS), len(WEIGHTS))


def test_remove(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    manager.download("piper-test")
    assert manager.remove("piper-test") is True
    assert not (models_dir / "piper-test").exists()
    assert manager.status("piper-test").state == "available"
    assert manager.remove("piper-test") is False
    with pytest.raises(ModelNotInstalledError, match="voxelle models download piper-test"):
        manager.path_of("piper-test")


def test_one_download_per_model_at_a_time(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    hub.chunk, hub.delay = 8 * 1024, 0.01
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    cancel = threading.Event()
    started = threading.Event()
    outcome: list[BaseException] = []

    def run() -> None:
        try:
            manager.download("piper-test", lambda d, t: started.set(), cancel)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    try:
        assert started.wait(10)
        assert manager.is_busy("piper-test")
        with pytest.raises(ModelBusyError):
            manager.download("piper-test")
        with pytest.raises(ModelBusyError):
            manager.remove("piper-test")
    finally:
        cancel.set()
        worker.join(10)
    assert isinstance(outcome[0], DownloadCancelled)
    assert not manager.is_busy("piper-test")


# --- readable errors -----------------------------------------------------------------------


def test_unknown_model_name(models_dir: Path, tmp_path: Path) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path))
    with pytest.raises(UnknownModelError) as caught:
        manager.download("gpt-9")
    assert "gpt-9" in caught.value.message and "piper-test" in caught.value.hint


def test_no_network_is_a_readable_error(models_dir: Path, tmp_path: Path) -> None:
    with FakeHub() as dead:
        endpoint = dead.endpoint  # a port nobody listens on once it stops
    manager = ModelManager(models_dir, voice_manifest(tmp_path), endpoint)
    with pytest.raises(NetworkError) as caught:
        manager.download("piper-test")
    assert "Could not reach" in caught.value.message
    assert "internet connection" in caught.value.hint


def test_hub_offline_mode_is_explained(
    hub: FakeHub, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    with pytest.raises(NetworkError, match="offline mode") as caught:
        manager.download("piper-test")
    assert "HF_HUB_OFFLINE" in caught.value.hint


def test_missing_file_on_the_hub(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    manifest = write_manifest(tmp_path, """
[[model]]
name = "gone"
kind = "llm"
source = "hf://rhasspy/piper-voices@v1.0.0"
  [[model.files]]
  path = "nothing-here.gguf"
""")
    manager = ModelManager(models_dir, manifest, hub.endpoint)
    with pytest.raises(ModelDownloadError, match="has no file"):
        manager.download("gone")


def test_not_enough_disk_space(
    hub: FakeHub, models_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = shutil.disk_usage

    def nearly_full(path: str | os.PathLike[str]) -> object:
        usage = real(path)
        return type(usage)(usage.total, usage.total - 1000, 1000)

    monkeypatch.setattr("voxelle_app.core.models.shutil.disk_usage", nearly_full)
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    with pytest.raises(DiskFullError) as caught:
        manager.download("piper-test")
    assert "disk space" in caught.value.message and caught.value.hint
    assert hub.gets("/blobs/") == []


# --- the manifest ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "why"),
    [
        ('name = "x"\nkind = "video"\nsource = "hf://a/b"\n[[model.files]]\npath = "m.bin"', "kind"),
        ('name = "x"\nkind = "stt"\nsource = "ftp://a/b"\n[[model.files]]\npath = "m.bin"', "source"),
        ('name = "x"\nkind = "stt"\nsource = "hf://a/b"\n[[model.files]]\npath = "../m.bin"', "relative"),
        ('name = "../x"\nkind = "stt"\nsource = "hf://a/b"\n[[model.files]]\npath = "m.bin"', "name"),
        ('name = "x"\nkind = "stt"\nsource = "hf://a/b"\n[[model.files]]\npath = "m"\nsha256 = "abc"',
         "sha256"),
        ('name = "x"\nkind = "tts"\nsource = "hf://a/b"\n[[model.files]]\npath = "v.onnx"', ".onnx.json"),
        ('name = "x"\nkind = "llm"\nsource = "hf://a/b"\n[[model.files]]\npath = "w.bin"', ".gguf"),
        ('name = "x"\nkind = "stt"\nsource = "hf://a/b"', "no files"),
    ],
)
def test_invalid_manifest_entries_are_refused(tmp_path: Path, entry: str, why: str) -> None:
    path = write_manifest(tmp_path, "[[model]]\n" + entry + "\n")
    with pytest.raises(ManifestError, match="not valid") as caught:
        load_manifest(path)
    assert why in str(caught.value)


def test_the_shipped_manifest_is_valid_and_honest() -> None:
    entries = {e.name: e for e in load_manifest(DEFAULT_MANIFEST)}
    assert {e.kind for e in entries.values()} == {"stt", "llm", "tts"}
    for entry in entries.values():
        assert isinstance(entry.parsed_source, HFSource)
        assert entry.license and entry.ram_mb > 0 and entry.speed and entry.size_bytes > 0
        for f in entry.files:
            # A pin comes with its exact size; an unknown hash is left empty, never made up.
            assert (f.sha256 == "") or (len(f.sha256) == 64 and f.size > 0)
    stt = entries["whisper-base.en"]
    assert {f.path for f in stt.files} == {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"}
    assert stt.main_file is None
    assert entries["piper-en_US-lessac-medium"].main_file == "en_US-lessac-medium.onnx"
    assert entries["qwen2.5-0.5b-instruct-q4_k_m"].main_file == "qwen2.5-0.5b-instruct-q4_k_m.gguf"


def test_stt_models_install_as_a_folder(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    for name, data in (("model.bin", WEIGHTS), ("config.json", b"{}"), ("tokenizer.json", b"{}"),
                       ("vocabulary.txt", b"a\nb\n")):
        hub.add("Systran/faster-whisper-base.en", name, data)
    manifest = write_manifest(tmp_path, """
[[model]]
name = "whisper-base.en"
kind = "stt"
source = "hf://Systran/faster-whisper-base.en@main"
""" + "".join(f'  [[model.files]]\n  path = "{n}"\n'
              for n in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")))
    manager = ModelManager(models_dir, manifest, hub.endpoint)
    folder = manager.download("whisper-base.en")
    assert folder == models_dir / "whisper-base.en"
    assert (folder / "model.bin").read_bytes() == WEIGHTS
    assert manager.path_of("whisper-base.en") == folder


# --- command line --------------------------------------------------------------------------


def test_models_command(hub: FakeHub, models_dir: Path, tmp_path: Path) -> None:
    manager = ModelManager(models_dir, voice_manifest(tmp_path), hub.endpoint)
    out, err = io.StringIO(), io.StringIO()
    assert models_command("list", None, manager, out, err) == 0
    assert "piper-test" in out.getvalue() and "available" in out.getvalue()

    out, err = io.StringIO(), io.StringIO()
    assert models_command("download", "piper-test", manager, out, err) == 0
    assert out.getvalue().strip() == str(models_dir / "piper-test" / "en_US-test-medium.onnx")
    assert "100.0 %" in err.getvalue()  # progress goes to stderr, the path to stdout

    out = io.StringIO()
    models_command("list", None, manager, out, err)
    assert "installed" in out.getvalue()

    out, err = io.StringIO(), io.StringIO()
    assert models_command("download", "nope", manager, out, err) == 1
    assert "no model called 'nope'" in err.getvalue() and out.getvalue() == ""
    assert models_command("download", None, manager, out, err) == 2
    assert models_command("frobnicate", None, manager, out, err) == 2

    out = io.StringIO()
    assert models_command("remove", "piper-test", manager, out, err) == 0
    assert "Removed piper-test" in out.getvalue()


def test_errors_are_voxelle_errors_with_hints() -> None:
    for cls in (ChecksumMismatchError, DiskFullError, NetworkError, UnknownModelError, ManifestError):
        assert issubclass(cls, VoxelleError)


# --- the fake speaks what huggingface_hub expects -------------------------------------------


def test_fake_hub_serves_hf_hub_download_with_progress(hub: FakeHub, tmp_path: Path) -> None:
    """hf_hub_download itself fetches from the fake, so its Hub dialect is the real one."""
    seen: list[int] = []

    class Bar(tqdm):
        def update(self, n: float | None = 1) -> bool | None:
            seen.append(int(n or 0))
            return super().update(n)

    path = huggingface_hub.hf_hub_download(
        "rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx", revision="v1.0.0",
        local_dir=tmp_path / "hf", endpoint=hub.endpoint, token=False, tqdm_class=Bar,
    )
    assert Path(path).read_bytes() == VOICE
    assert sum(seen) == len(VOICE)
    meta = huggingface_hub.get_hf_file_metadata(
        huggingface_hub.hf_hub_url("rhasspy/piper-voices", "en/en_US/test/medium/en_US-test-medium.onnx",
                                   revision="v1.0.0", endpoint=hub.endpoint),
        token=False,
    )
    assert (meta.etag, meta.size) == (sha(VOICE), len(VOICE))
    assert meta.location.startswith(hub.cdn)
