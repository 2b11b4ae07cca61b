"""Downloadable models: the manifest, verified and resumable downloads, what is installed.

Layout: each model lives in ``<models_dir>/<name>/`` with its files and an ``installed.json``
marker written (atomically) only once every file is in place and verified. A file being
downloaded is ``<file>.part`` beside a ``<file>.part.json`` that says which version it is.

Why huggingface_hub resolves but does not move the bytes: ``hf_hub_download`` (2.x) writes
into a uniquely named temporary file that it deletes on any failure (huggingface_hub
PR 4228), so a paused, cancelled or crashed download would restart from zero, and with
``hf_xet`` installed it switches to another transport with no byte ranges. So
``get_hf_file_metadata`` (the same HEAD on ``{endpoint}/{repo}/resolve/{revision}/{file}``
that ``hf_hub_download`` makes: redirects, X-Repo-Commit, X-Linked-Etag = the LFS sha256,
X-Linked-Size, its error classes) tells us what to fetch and how to check it, and this
module streams it into the ``.part`` file with HTTP Range so every interruption resumes.

Everything here blocks: the UI and the CLI run ``download`` in a worker thread.
"""

from __future__ import annotations

import builtins
import contextlib
import errno
import hashlib
import json
import os
import re
import shutil
import ssl
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import Any, Literal, TextIO, cast
from urllib.parse import quote, urlsplit

from voxelle_app import __version__
from voxelle_app.core.errors import (
    BackendError,
    ConfigurationError,
    ValidationError,
    VoxelleError,
)
from voxelle_app.core.logs import Category, get_logger
from voxelle_app.core.paths import REPO_ROOT, atomic_write_text

Kind = Literal["stt", "llm", "tts"]
State = Literal["available", "partial", "installed"]
VerifiedBy = Literal["manifest", "hub", "first-download"]
ProgressCallback = Callable[[int, int], None]

KINDS: tuple[Kind, ...] = ("stt", "llm", "tts")
MANIFEST_SCHEMA = 1
MARKER = "installed.json"
DEFAULT_MANIFEST = REPO_ROOT / "models" / "manifest.toml"

CHUNK = 256 * 1024
TIMEOUT_S = 30.0
MAX_RETRIES = 5  # consecutive failures without progress before giving up
PROGRESS_INTERVAL_S = 0.1
DISK_MARGIN = 50 * 1024 * 1024
USER_AGENT = f"voxelle/{__version__}"

_SHA256 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")

_api = get_logger("voxelle.models", Category.API_REQUEST)
_ops = get_logger("voxelle.models", Category.OPERATION)


# --- errors ------------------------------------------------------------------------------


class ManifestError(ConfigurationError):
    """The model manifest cannot be read or lists something that cannot work."""

    component = "models"


class UnknownModelError(ValidationError):
    component = "models"


class ModelNotInstalledError(ConfigurationError):
    component = "models"


class ModelDownloadError(BackendError):
    """A download failed; what was already received is kept for the next attempt."""

    component = "models"


class NetworkError(ModelDownloadError):
    pass


class ChecksumMismatchError(ModelDownloadError):
    pass


class DiskFullError(ModelDownloadError):
    pass


class DownloadCancelled(ModelDownloadError):
    """Not a failure: the person paused it. The partial file stays for a resume."""


class ModelBusyError(ModelDownloadError):
    pass


_NETWORK_HINT = (
    "Check the internet connection (and the models endpoint setting), then start the download "
    "again: it resumes where it stopped."
)


# --- the manifest --------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to the source, "/"-separated
    size: int = 0  # bytes; 0 = not known in the manifest
    sha256: str = ""  # "" = not pinned: checked against the hub's LFS hash, else recorded


@dataclass(frozen=True)
class HFSource:
    repo_id: str
    folder: str  # a folder inside the repo, or ""
    revision: str

    def filename(self, path: str) -> str:
        return f"{self.folder}/{path}" if self.folder else path


@dataclass(frozen=True)
class URLSource:
    base: str

    def url(self, path: str) -> str:
        return f"{self.base.rstrip('/')}/{quote(path)}"


Source = HFSource | URLSource


@dataclass(frozen=True)
class ModelEntry:
    name: str
    kind: Kind
    description: str
    source: str
    files: tuple[ModelFile, ...]
    license: str = ""
    approx_mb: int = 0
    ram_mb: int = 0
    speed: str = ""

    @property
    def parsed_source(self) -> Source:
        return parse_source(self.source)

    @property
    def size_bytes(self) -> int:
        """Exact total when every size is pinned, else the manifest's estimate."""
        if self.size_is_exact:
            return sum(f.size for f in self.files)
        return self.approx_mb * 1_000_000

    @property
    def size_is_exact(self) -> bool:
        return all(f.size > 0 for f in self.files)

    @property
    def display_size(self) -> str:
        """"63.2 MB" when every size is pinned, "about 491 MB" from the estimate."""
        if self.size_is_exact or self.size_bytes <= 0:
            return format_size(self.size_bytes)
        return f"about {format_size(self.size_bytes)}"

    @property
    def main_file(self) -> str | None:
        """What settings point at: the .gguf, the .onnx, or None for a whole folder (STT)."""
        suffix = {"llm": ".gguf", "tts": ".onnx"}.get(self.kind)
        if suffix is None:
            return None
        return next(f.path for f in self.files if f.path.endswith(suffix))


def parse_source(text: str) -> Source:
    """``hf://owner/repo[/folder]@revision`` or an http(s) URL of the folder holding the files."""
    if text.startswith("hf://"):
        rest, _, revision = text[len("hf://") :].partition("@")
        parts = [p for p in rest.split("/") if p]
        if len(parts) < 2 or any(p in (".", "..") for p in parts):
            raise ValueError(f"{text!r}: expected hf://owner/repo[/folder]@revision")
        return HFSource("/".join(parts[:2]), "/".join(parts[2:]), revision or "main")
    scheme = urlsplit(text).scheme
    if scheme in ("http", "https") and urlsplit(text).netloc:
        return URLSource(text)
    raise ValueError(f"{text!r}: a source is hf://owner/repo[/folder]@revision or an https URL")


def _check_relative(path: str) -> str:
    parts = path.split("/")
    if not path or "\\" in path or path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"file path {path!r} must be relative, '/'-separated, without '..'")
    return path


def load_manifest(path: Path) -> builtins.list[ModelEntry]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ManifestError(
            f"The model list {path} is missing.", hint="Reinstall Voxelle to restore it."
        ) from exc
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ManifestError(f"The model list {path} cannot be read: {exc}.") from exc
    if raw.get("schema_version", MANIFEST_SCHEMA) != MANIFEST_SCHEMA:
        raise ManifestError(
            f"The model list {path} has schema_version {raw.get('schema_version')!r}; "
            f"this Voxelle reads {MANIFEST_SCHEMA}.",
            hint="Update Voxelle.",
        )
    entries: builtins.list[ModelEntry] = []
    seen: set[str] = set()
    for index, item in enumerate(raw.get("model", [])):
        label = item.get("name", f"#{index + 1}") if isinstance(item, dict) else f"#{index + 1}"
        try:
            entry = _parse_entry(item)
        except (ValueError, TypeError, KeyError) as exc:
            raise ManifestError(
                f"Model {label} in {path} is not valid: {exc}.",
                hint="Fix that entry in the manifest.",
                context={"manifest": str(path)},
            ) from exc
        if entry.name in seen:
            raise ManifestError(f"Model {entry.name} is listed twice in {path}.")
        seen.add(entry.name)
        entries.append(entry)
    return entries


def _parse_entry(item: Any) -> ModelEntry:
    if not isinstance(item, dict):
        raise TypeError("an entry must be a table")
    name = str(item["name"])
    if not _NAME.fullmatch(name):
        raise ValueError("name must be letters, digits, '.', '_' or '-' (it names a folder)")
    kind = item["kind"]
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    source = str(item["source"])
    parse_source(source)
    files: builtins.list[ModelFile] = []
    for f in item.get("files", []):
        sha = str(f.get("sha256", "")).strip().lower()
        if sha and not _SHA256.fullmatch(sha):
            raise ValueError(f"sha256 of {f.get('path')!r} must be 64 hex digits or empty")
        size = f.get("size", 0)
        if not isinstance(size, int) or size < 0:
            raise ValueError(f"size of {f.get('path')!r} must be a whole number of bytes")
        files.append(ModelFile(_check_relative(str(f["path"])), size, sha))
    if not files:
        raise ValueError("it lists no files")
    paths = [f.path for f in files]
    if len(set(paths)) != len(paths):
        raise ValueError("a file is listed twice")
    if kind == "llm" and not any(p.endswith(".gguf") for p in paths):
        raise ValueError("an llm model needs a .gguf file")
    if kind == "tts":
        onnx = [p for p in paths if p.endswith(".onnx")]
        if not onnx or f"{onnx[0]}.json" not in paths:
            raise ValueError("a piper voice needs its .onnx and the matching .onnx.json")
    return ModelEntry(
        name=name,
        kind=cast(Kind, kind),
        description=str(item.get("description", "")),
        source=source,
        files=tuple(files),
        license=str(item.get("license", "")),
        approx_mb=int(item.get("approx_mb", 0)),
        ram_mb=int(item.get("ram_mb", 0)),
        speed=str(item.get("speed", "")),
    )


# --- status --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelStatus:
    entry: ModelEntry
    state: State
    path: Path | None  # what settings should point at, once installed
    partial_bytes: int = 0  # already on disk, for a resume

    @property
    def name(self) -> str:
        return self.entry.name


# --- planning and progress -----------------------------------------------------------------


@dataclass
class _Plan:
    """One file: where its bytes come from and what they must hash to."""

    file: ModelFile
    url: str
    dest: Path
    size: int | None
    version: str  # identifies the remote bytes, so a partial of another version is dropped
    expected_sha256: str
    verified_by: VerifiedBy
    commit: str | None = None
    if_range: str | None = None  # a strong ETag a plain server can compare (If-Range)

    @property
    def part(self) -> Path:
        return self.dest.with_name(self.dest.name + ".part")

    @property
    def part_info(self) -> Path:
        return self.dest.with_name(self.dest.name + ".part.json")


class _Meter:
    """Sums bytes over a model's files and calls back at most every PROGRESS_INTERVAL_S."""

    def __init__(self, callback: ProgressCallback | None, sizes: builtins.list[int | None]) -> None:
        self.callback = callback
        self.sizes = sizes
        self.done = [0] * len(sizes)
        self._last = 0.0
        self._warned = False

    @property
    def total(self) -> int:
        return sum(max(s or 0, d) for s, d in zip(self.sizes, self.done, strict=True))

    def set(self, index: int, value: int, force: bool = False) -> None:
        self.done[index] = value
        now = time.monotonic()
        if force or now - self._last >= PROGRESS_INTERVAL_S:
            self._last = now
            self.emit()

    def emit(self) -> None:
        if self.callback is None:
            return
        try:
            self.callback(sum(self.done), self.total)
        except Exception:  # a broken progress display must not break the download
            if not self._warned:
                self._warned = True
                _ops.warning("Model download progress callback failed", exc_info=True)


# --- the manager ---------------------------------------------------------------------------


class ModelManager:
    """Lists, downloads (verified, resumable, cancellable) and removes manifest models.

    ``endpoint`` is the Hugging Face endpoint (a mirror, or a test server); None or "" means
    huggingface_hub's default, which honours ``HF_ENDPOINT``.
    """

    def __init__(self, models_dir: Path, manifest_path: Path, endpoint: str | None = None) -> None:
        self.models_dir = models_dir
        self.manifest_path = manifest_path
        self.endpoint = endpoint.rstrip("/") if endpoint else None
        self._entries = {e.name: e for e in load_manifest(manifest_path)}
        self._lock = threading.Lock()
        self._busy: set[str] = set()
        self._ssl: ssl.SSLContext | None = None

    # --- queries --------------------------------------------------------------------------

    @property
    def entries(self) -> builtins.list[ModelEntry]:
        return builtins.list(self._entries.values())

    def entry(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownModelError(
                f"There is no model called {name!r}.",
                hint=f"Known models: {', '.join(self._entries) or 'none'}.",
                context={"name": name},
            ) from None

    def model_dir(self, name: str) -> Path:
        return self.models_dir / self.entry(name).name

    def status(self, name: str) -> ModelStatus:
        entry = self.entry(name)
        folder = self.models_dir / entry.name
        if self._installed_record(entry) is not None:
            return ModelStatus(entry, "installed", self._main_path(entry, folder))
        partial = 0
        for f in entry.files:
            dest = folder.joinpath(*f.path.split("/"))
            for candidate in (dest, dest.with_name(dest.name + ".part")):
                with contextlib.suppress(OSError):
                    partial += candidate.stat().st_size
        return ModelStatus(entry, "partial" if partial else "available", None, partial)

    def list(self) -> builtins.list[ModelStatus]:
        return [self.status(name) for name in self._entries]

    def is_installed(self, name: str) -> bool:
        return self.status(name).state == "installed"

    def is_busy(self, name: str) -> bool:
        with self._lock:
            return name in self._busy

    def path_of(self, name: str) -> Path:
        """The folder (STT), the .gguf (LLM) or the .onnx (TTS) of an installed model."""
        status = self.status(name)
        if status.path is None:
            raise ModelNotInstalledError(
                f"The model {name} is not downloaded.",
                hint=f"Download it in Models > Downloads, or run: voxelle models download {name}",
            )
        return status.path

    # --- download -------------------------------------------------------------------------

    def download(
        self,
        name: str,
        progress: ProgressCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """Fetch, verify and install ``name``; returns ``path_of(name)``. Blocks.

        Raises DownloadCancelled when ``cancel`` is set (the partial stays for a resume),
        ChecksumMismatchError (the bad file is deleted), NetworkError, DiskFullError,
        ModelBusyError or ModelDownloadError.
        """
        entry = self.entry(name)
        cancel = cancel or threading.Event()
        with self._claim(entry.name):
            folder = self.models_dir / entry.name
            if self._installed_record(entry) is not None:
                return self._main_path(entry, folder)
            _ops.info("Downloading model %s from %s", entry.name, entry.source)
            plans = [self._plan(entry, f, folder) for f in entry.files]
            meter = _Meter(progress, [p.size for p in plans])
            meter.done = [_size_on_disk(p) for p in plans]
            meter.emit()
            self._check_disk_space(entry, folder, plans)
            records = []
            for i, plan in enumerate(plans):
                if cancel.is_set():
                    raise self._cancelled(entry)
                records.append(self._fetch(entry, plan, i, meter, cancel))
            self._write_marker(entry, folder, plans, records)
            meter.emit()
            _ops.info("Model %s installed in %s", entry.name, folder)
            return self._main_path(entry, folder)

    def remove(self, name: str) -> bool:
        """Delete a model's folder (partial downloads too); False when nothing was there."""
        entry = self.entry(name)
        with self._claim(entry.name):
            folder = self.models_dir / entry.name
            if not folder.exists():
                return False
            try:
                shutil.rmtree(folder)
            except OSError as exc:
                raise BackendError(
                    f"Could not delete the model {name}: {exc.strerror or exc}.",
                    hint="Choose another model first so this one is not in use, then try again.",
                    component="models",
                ) from exc
            _ops.info("Model %s removed", name)
            return True

    # --- internals: state ----------------------------------------------------------------

    @contextlib.contextmanager
    def _claim(self, name: str) -> Iterator[None]:
        with self._lock:
            if name in self._busy:
                raise ModelBusyError(
                    f"The model {name} is already being downloaded or removed.",
                    hint="Wait for it to finish, or cancel it first.",
                )
            self._busy.add(name)
        try:
            yield
        finally:
            with self._lock:
                self._busy.discard(name)

    def _installed_record(self, entry: ModelEntry) -> dict[str, Any] | None:
        folder = self.models_dir / entry.name
        try:
            record = json.loads((folder / MARKER).read_text(encoding="utf-8"))
            files = {f["path"]: int(f["size"]) for f in record["files"]}
        except (OSError, ValueError, KeyError, TypeError):
            return None
        for f in entry.files:
            try:
                if folder.joinpath(*f.path.split("/")).stat().st_size != files[f.path]:
                    return None
            except (OSError, KeyError):
                return None
        return cast(dict[str, Any], record)

    @staticmethod
    def _main_path(entry: ModelEntry, folder: Path) -> Path:
        main = entry.main_file
        return folder if main is None else folder.joinpath(*main.split("/"))

    def _write_marker(
        self,
        entry: ModelEntry,
        folder: Path,
        plans: builtins.list[_Plan],
        records: builtins.list[dict[str, Any]],
    ) -> None:
        marker = {
            "format": 1,
            "name": entry.name,
            "kind": entry.kind,
            "source": entry.source,
            "commit": next((p.commit for p in plans if p.commit), None),
            "installed_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "files": records,
        }
        atomic_write_text(folder / MARKER, json.dumps(marker, indent=2) + "\n", mode=0o644)

    def _cancelled(self, entry: ModelEntry) -> DownloadCancelled:
        return DownloadCancelled(
            f"Download of {entry.name} paused.",
            hint="What was received is kept: start the download again to resume.",
        )

    def _check_disk_space(self, entry: ModelEntry, folder: Path, plans: builtins.list[_Plan]) -> None:
        needed = sum(max((p.size or 0) - _size_on_disk(p), 0) for p in plans)
        folder.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(folder).free
        if needed and needed + DISK_MARGIN > free:
            raise DiskFullError(
                f"Not enough disk space for {entry.name}: it needs {_mb(needed)} and "
                f"{_mb(free)} is free in {folder}.",
                hint="Free some space (or remove a model you no longer use) and try again.",
            )

    # --- internals: resolving -------------------------------------------------------------

    def _plan(self, entry: ModelEntry, f: ModelFile, folder: Path) -> _Plan:
        source = entry.parsed_source
        dest = folder.joinpath(*f.path.split("/"))
        if isinstance(source, HFSource):
            return self._plan_hf(entry, source, f, dest)
        return self._plan_url(entry, source, f, dest)

    def _plan_hf(self, entry: ModelEntry, source: HFSource, f: ModelFile, dest: Path) -> _Plan:
        from huggingface_hub import get_hf_file_metadata, hf_hub_url
        from huggingface_hub.errors import (
            EntryNotFoundError,
            GatedRepoError,
            HfHubHTTPError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )

        filename = source.filename(f.path)
        url = hf_hub_url(source.repo_id, filename, revision=source.revision, endpoint=self.endpoint)
        where = f"{source.repo_id}@{source.revision}: {filename}"
        _api.info("HEAD %s", url)
        try:
            meta = get_hf_file_metadata(url, token=False, endpoint=self.endpoint)
        except OfflineModeIsEnabled as exc:
            raise NetworkError(
                f"Cannot download {entry.name}: Hugging Face offline mode is on.",
                hint="Unset HF_HUB_OFFLINE (or set it to 0) and start Voxelle again.",
            ) from exc
        except (RepositoryNotFoundError, GatedRepoError) as exc:
            raise ModelDownloadError(
                f"The Hugging Face repository {source.repo_id} is not available "
                f"(missing, private or gated).",
                hint="The model list may be out of date; update Voxelle.",
            ) from exc
        except (RevisionNotFoundError, EntryNotFoundError) as exc:
            raise ModelDownloadError(
                f"The hub has no file {where}.",
                hint="The model list may be out of date; update Voxelle.",
            ) from exc
        except HfHubHTTPError as exc:
            code = exc.response.status_code if exc.response is not None else "?"
            raise NetworkError(
                f"The model server answered HTTP {code} for {where}.",
                hint="The server may be busy: try again in a few minutes.",
            ) from exc
        except Exception as exc:  # connection refused, DNS, TLS, timeout: httpx2 errors
            raise NetworkError(
                f"Could not reach the model server ({self.endpoint or 'huggingface.co'}): "
                f"{_short(exc)}.",
                hint=_NETWORK_HINT,
            ) from exc
        if not meta.commit_hash or not meta.etag:
            raise ModelDownloadError(
                f"{self.endpoint or 'The endpoint'} does not answer like a Hugging Face hub "
                "(no X-Repo-Commit or ETag).",
                hint="Check the models endpoint setting.",
            )
        size = meta.size
        if f.size and size is not None and size != f.size:
            raise ModelDownloadError(
                f"The hub offers {filename} with {size} bytes; the model list expects {f.size}.",
                hint="The model list may be out of date; update Voxelle.",
            )
        hub_sha = meta.etag.lower() if _SHA256.fullmatch(meta.etag.lower()) else ""
        if f.sha256 and hub_sha and hub_sha != f.sha256:
            raise ChecksumMismatchError(
                f"The hub's {filename} is not the file the model list pins "
                f"(sha256 {hub_sha[:12]}…, expected {f.sha256[:12]}…); nothing was downloaded.",
                hint="The model list may be out of date; update Voxelle.",
            )
        expected, verified_by = _expectation(f.sha256, hub_sha)
        return _Plan(
            file=f,
            url=meta.location,
            dest=dest,
            size=size if size is not None else (f.size or None),
            version=f"hf:{meta.etag}",
            expected_sha256=expected,
            verified_by=verified_by,
            commit=meta.commit_hash,
        )

    def _plan_url(self, entry: ModelEntry, source: URLSource, f: ModelFile, dest: Path) -> _Plan:
        url = source.url(f.path)
        size: int | None = f.size or None
        etag: str | None = None
        _api.info("HEAD %s", url)
        try:
            with self._open(url, {}, method="HEAD") as resp:
                length = resp.headers.get("Content-Length")
                if length is not None and length.isdigit():
                    remote = int(length)
                    if f.size and remote != f.size:
                        raise ModelDownloadError(
                            f"{url} has {remote} bytes; the model list expects {f.size}.",
                            hint="The model list may be out of date; update Voxelle.",
                        )
                    size = remote
                etag = resp.headers.get("ETag")
        except urllib.error.HTTPError as exc:
            if exc.code in (404, 410):
                raise ModelDownloadError(
                    f"{url} does not exist (HTTP {exc.code}).",
                    hint="The model list may be out of date; update Voxelle.",
                ) from exc
            # HEAD refused or unsupported: the GET will tell us the size.
        except (urllib.error.URLError, OSError, HTTPException) as exc:
            raise NetworkError(
                f"Could not reach {urlsplit(url).netloc}: {_short(exc)}.", hint=_NETWORK_HINT
            ) from exc
        if urlsplit(url).scheme != "https" and not f.sha256:
            _ops.warning("Model file %s comes over plain http without a pinned sha256", url)
        expected, verified_by = _expectation(f.sha256, "")
        strong = etag if etag and not etag.startswith("W/") else None
        return _Plan(
            file=f,
            url=url,
            dest=dest,
            size=size,
            version=f"url:{url}|{etag or ''}|{size or ''}",
            expected_sha256=expected,
            verified_by=verified_by,
            if_range=strong,
        )

    # --- internals: moving bytes ----------------------------------------------------------

    def _fetch(
        self, entry: ModelEntry, plan: _Plan, index: int, meter: _Meter, cancel: threading.Event
    ) -> dict[str, Any]:
        """Make ``plan.dest`` hold the verified file; returns its installed.json record."""
        plan.dest.parent.mkdir(parents=True, exist_ok=True)
        if plan.dest.exists():  # complete but not yet marked (a crash before installed.json)
            if plan.size is None or plan.dest.stat().st_size == plan.size:
                observed = _sha256_file(plan.dest)
                if not plan.expected_sha256 or observed == plan.expected_sha256:
                    meter.set(index, plan.dest.stat().st_size, force=True)
                    return self._record(entry, plan, observed)
            plan.dest.unlink()
            meter.set(index, 0)
        self._keep_or_drop_partial(plan)
        self._transfer(entry, plan, index, meter, cancel)
        observed = _sha256_file(plan.part)
        if plan.expected_sha256 and observed != plan.expected_sha256:
            plan.part.unlink(missing_ok=True)
            plan.part_info.unlink(missing_ok=True)
            meter.set(index, 0, force=True)
            raise ChecksumMismatchError(
                f"{plan.file.path} of {entry.name} failed its checksum (sha256 {observed[:12]}…, "
                f"expected {plan.expected_sha256[:12]}…) and was deleted.",
                hint="Download it again. If it fails again, the server or a proxy "
                "is altering the file.",
                context={"file": plan.file.path, "observed": observed},
            )
        os.replace(plan.part, plan.dest)
        plan.part_info.unlink(missing_ok=True)
        return self._record(entry, plan, observed)

    def _record(self, entry: ModelEntry, plan: _Plan, observed: str) -> dict[str, Any]:
        if not plan.expected_sha256:
            _ops.warning(
                "No pinned checksum for %s of %s: recorded sha256 %s on first download. "
                "Pin it in models/manifest.toml.",
                plan.file.path, entry.name, observed,
            )
        return {
            "path": plan.file.path,
            "size": plan.dest.stat().st_size,
            "sha256": observed,
            "verified_by": plan.verified_by,
        }

    def _keep_or_drop_partial(self, plan: _Plan) -> None:
        """A partial of another version of the file would corrupt the result: drop it."""
        try:
            info = json.loads(plan.part_info.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            info = None
        if plan.part.exists() and (info is None or info.get("version") != plan.version):
            _ops.info("Dropping a partial %s from another version", plan.part.name)
            plan.part.unlink()
        atomic_write_text(plan.part_info, json.dumps({"version": plan.version}) + "\n", mode=0o644)

    def _transfer(
        self, entry: ModelEntry, plan: _Plan, index: int, meter: _Meter, cancel: threading.Event
    ) -> None:
        """Stream ``plan.url`` into ``plan.part``, resuming with Range after every cut."""
        failures = 0
        while True:
            have = plan.part.stat().st_size if plan.part.exists() else 0
            if plan.size is not None and have > plan.size:
                plan.part.unlink()
                have = 0
            meter.set(index, have)
            if plan.size is not None and have == plan.size:
                return
            if cancel.is_set():
                raise self._cancelled(entry)
            headers = {}
            if have:
                headers["Range"] = f"bytes={have}-"
                if plan.if_range:
                    headers["If-Range"] = plan.if_range
            try:
                outcome = self._receive(entry, plan, headers, have, index, meter, cancel)
            except urllib.error.HTTPError as exc:
                if exc.code == 416 and have and plan.size is None:
                    return  # the server says we already hold every byte; the hash decides
                if exc.code == 416:
                    plan.part.unlink(missing_ok=True)
                    outcome = "retry"
                elif exc.code in (408, 425, 429, 500, 502, 503, 504):
                    outcome = "retry"
                elif exc.code in (401, 403) and isinstance(entry.parsed_source, HFSource):
                    raise ModelDownloadError(
                        f"The download link for {entry.name} expired (HTTP {exc.code}).",
                        hint="Start the download again: it asks for a fresh link and resumes.",
                    ) from exc
                else:
                    raise ModelDownloadError(
                        f"Downloading {plan.file.path} of {entry.name} failed: HTTP {exc.code} "
                        f"{exc.reason}.",
                        hint="The model list may be out of date; update Voxelle.",
                    ) from exc
                last_error: BaseException = exc
            except (urllib.error.URLError, OSError, HTTPException) as exc:
                if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
                    raise DiskFullError(
                        f"The disk filled up while downloading {entry.name}.",
                        hint="Free some space and start the download again: it resumes.",
                    ) from exc
                outcome, last_error = "retry", exc
            else:
                last_error = ConnectionError("the connection closed early")
            if outcome == "done":
                return
            if outcome == "progress":
                failures = 0
                _api.info("Transfer of %s cut at %d bytes; resuming", plan.file.path, meter.done[index])
                continue
            failures += 1
            if failures > MAX_RETRIES:
                raise NetworkError(
                    f"Downloading {entry.name} keeps failing ({_short(last_error)}).",
                    hint=_NETWORK_HINT,
                ) from last_error
            _api.info("Download of %s failed (%s); retry %d", plan.file.path, _short(last_error), failures)
            if cancel.wait(min(0.5 * 2 ** (failures - 1), 8.0)):
                raise self._cancelled(entry)

    def _receive(
        self,
        entry: ModelEntry,
        plan: _Plan,
        headers: dict[str, str],
        have: int,
        index: int,
        meter: _Meter,
        cancel: threading.Event,
    ) -> Literal["done", "progress", "retry"]:
        """One GET. "done": complete; "progress": cut after new bytes; "retry": nothing new."""
        _api.info("GET %s%s", _redact_query(plan.url), f" ({headers['Range']})" if have else "")
        with self._open(plan.url, headers) as resp:
            status = resp.status
            start = 0
            total: int | None = None
            if status == 206:
                start, total = _content_range(resp.headers.get("Content-Range"))
                if start != have:  # not the range we asked for: start over cleanly
                    plan.part.unlink(missing_ok=True)
                    return "retry"
            elif status != 200:
                raise ModelDownloadError(f"Unexpected HTTP {status} for {plan.file.path}.")
            length = resp.headers.get("Content-Length")
            end = start + int(length) if length is not None and length.isdigit() else None
            if status == 200:
                total = end
            if total is not None and plan.size is not None and total != plan.size:
                plan.part.unlink(missing_ok=True)
                raise ModelDownloadError(
                    f"The server now sends {total} bytes for {plan.file.path} of {entry.name}, "
                    f"not the {plan.size} it announced.",
                    hint="The file changed while downloading: start the download again.",
                )
            if total is not None and plan.size is None:
                plan.size = total
                meter.sizes[index] = total
            received = start
            with open(plan.part, "ab" if start else "wb") as fh:
                try:
                    while True:
                        if cancel.is_set():
                            raise self._cancelled(entry)
                        try:
                            # read1: what has arrived (up to CHUNK), so progress and Cancel
                            # respond on slow links too; read() would wait for CHUNK bytes.
                            chunk = resp.read1(CHUNK)
                        except (OSError, HTTPException):
                            break  # a cut; what we have is a valid prefix
                        if not chunk:
                            break
                        fh.write(chunk)
                        received += len(chunk)
                        meter.set(index, received)
                finally:
                    fh.flush()
                    os.fsync(fh.fileno())
            meter.set(index, received, force=True)
            if end is None or received >= end:
                if end is None and plan.size is None:
                    plan.size = received
                return "done"
            return "progress" if received > start else "retry"

    def _open(self, url: str, headers: dict[str, str], method: str = "GET") -> HTTPResponse:
        request = urllib.request.Request(url, method=method)
        request.add_header("User-Agent", USER_AGENT)
        request.add_header("Accept-Encoding", "identity")
        for k, v in headers.items():
            request.add_header(k, v)
        context = self._ssl_context() if url.startswith("https:") else None
        return cast(HTTPResponse, urllib.request.urlopen(request, timeout=TIMEOUT_S, context=context))

    def _ssl_context(self) -> ssl.SSLContext:
        """The operating system's trust store when truststore is there (as huggingface_hub does)."""
        if self._ssl is None:
            try:
                import truststore

                self._ssl = truststore.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            except ImportError:
                self._ssl = ssl.create_default_context()
        return self._ssl


# --- helpers -----------------------------------------------------------------------------


def _expectation(pinned: str, hub: str) -> tuple[str, VerifiedBy]:
    if pinned:
        return pinned, "manifest"
    if hub:
        return hub, "hub"
    return "", "first-download"


def _size_on_disk(plan: _Plan) -> int:
    for path in (plan.dest, plan.part):
        with contextlib.suppress(OSError):
            return path.stat().st_size
    return 0


def _content_range(value: str | None) -> tuple[int, int | None]:
    match = re.fullmatch(r"bytes (\d+)-\d+/(\d+|\*)", (value or "").strip())
    if match is None:
        return -1, None
    total = match.group(2)
    return int(match.group(1)), (int(total) if total.isdigit() else None)


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _redact_query(url: str) -> str:
    """Signed CDN links carry credentials in the query string; logs keep only the path."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}" + ("?…" if parts.query else "")


def _short(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text or type(exc).__name__


def _mb(n: int) -> str:
    return f"{n / 1_000_000:,.1f} MB" if n < 10_000_000_000 else f"{n / 1_000_000_000:,.1f} GB"


def format_size(n: int) -> str:
    """Bytes for people: 63.2 MB, 1.1 GB."""
    if n <= 0:
        return "?"
    if n >= 1_000_000_000:
        return f"{n / 1_000_000_000:.1f} GB"
    return f"{n / 1_000_000:.1f} MB"


# --- command line ------------------------------------------------------------------------


class _StderrProgress:
    """One line on a terminal, rewritten in place; plain lines every 10 % otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if total <= 0:
            text = f"{format_size(done)} received"
            decile = -1
        else:
            pct = min(100.0, 100.0 * done / total)
            text = f"{pct:5.1f} %  {format_size(done)} of {format_size(total)}"
            decile = int(pct // 10)
        if self.tty:
            self.stream.write(f"\r{text}   ")
            self.stream.flush()
        elif decile != self._last_decile:
            self._last_decile = decile
            self.stream.write(text + "\n")

    def end(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def models_command(
    argv_action: str,
    name: str | None,
    manager: ModelManager,
    out: TextIO,
    err: TextIO | None = None,
) -> int:
    """``voxelle models list | download NAME | remove NAME``; progress and errors on stderr."""
    err = err if err is not None else sys.stderr
    try:
        if argv_action == "list":
            _print_list(manager, out)
            return 0
        if argv_action not in ("download", "remove"):
            err.write(f"Unknown action {argv_action!r}: use list, download NAME or remove NAME.\n")
            return 2
        if not name:
            err.write(f"Which model? Usage: voxelle models {argv_action} NAME "
                      "(see: voxelle models list)\n")
            return 2
        if argv_action == "remove":
            removed = manager.remove(name)
            out.write(f"Removed {name}.\n" if removed else f"{name} was not downloaded.\n")
            return 0
        meter = _StderrProgress(err)
        cancel = threading.Event()
        try:
            path = manager.download(name, meter, cancel)
        except KeyboardInterrupt:
            cancel.set()
            meter.end()
            err.write(f"Paused. Run `voxelle models download {name}` again to resume.\n")
            return 130
        meter.end()
        out.write(f"{path}\n")
        return 0
    except VoxelleError as exc:
        err.write(f"{exc.user_message()}\n")
        return 1


def _print_list(manager: ModelManager, out: TextIO) -> None:
    rows = [("NAME", "KIND", "SIZE", "RAM", "STATE", "PATH / DESCRIPTION")]
    for s in manager.list():
        e = s.entry
        state = s.state if s.state != "partial" else f"partial ({format_size(s.partial_bytes)})"
        detail = str(s.path) if s.path is not None else e.description
        ram = f"{e.ram_mb} MB" if e.ram_mb else "?"
        rows.append((e.name, e.kind, e.display_size, ram, state, detail))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for r in rows:
        out.write("  ".join(c.ljust(w) for c, w in zip(r[:5], widths, strict=True)) + "  " + r[5] + "\n")
