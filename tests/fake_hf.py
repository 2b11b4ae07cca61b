"""A small Hugging Face file server on 127.0.0.1, for tests that must not reach the internet.

It answers what huggingface_hub 2.4 asks (read from ``file_download.get_hf_file_metadata``
and ``http_get``) the way huggingface.co does:

- ``HEAD|GET /{owner}/{repo}/resolve/{revision}/{path}``
  - an LFS file: ``302`` to a second origin (the "CDN") with ``X-Repo-Commit``,
    ``X-Linked-Etag`` (its sha256), ``X-Linked-Size`` and ``ETag`` on the redirect itself,
    because huggingface_hub does not follow a redirect to another origin for metadata;
  - a git file: ``200`` with ``ETag`` (the git blob sha1), ``Content-Length``,
    ``X-Repo-Commit``;
  - errors: ``404`` with ``X-Error-Code`` RepoNotFound / RevisionNotFound / EntryNotFound.
- ``HEAD|GET {cdn}/blobs/{sha256}`` and ``HEAD|GET /files/{path}`` (plain URL sources).

Every byte-serving route honours ``Range`` (206 + Content-Range, 416 past the end) and
``If-Range``. ``cut(file, after)`` makes the next GET of that file drop the connection after
``after`` bytes; ``delay`` slows each chunk so a test can cancel mid-transfer. Every request
is recorded with its headers.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from urllib.parse import unquote, urlsplit

LFS_SUFFIXES = (".bin", ".gguf", ".onnx", ".safetensors")


@dataclass
class Served:
    data: bytes
    lfs: bool
    cuts: list[int] = field(default_factory=list)  # pending "drop after N bytes", in order
    tamper: bytes | None = None  # bytes sent instead of ``data`` (a proxy altering the file)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def git_sha1(self) -> str:
        return hashlib.sha1(b"blob %d\0" % len(self.data) + self.data).hexdigest()

    @property
    def etag(self) -> str:
        return f'"{self.sha256 if self.lfs else self.git_sha1}"'


@dataclass(frozen=True)
class Recorded:
    server: str  # "hub" or "cdn"
    method: str
    path: str
    headers: dict[str, str]


class FakeHub:
    def __init__(self, chunk: int = 16 * 1024) -> None:
        self.chunk = chunk
        self.delay = 0.0  # seconds per chunk sent
        self.requests: list[Recorded] = []
        self._repos: dict[tuple[str, str], dict[str, Served]] = {}
        self._plain: dict[str, Served] = {}
        self._lock = threading.Lock()
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []
        self.endpoint = ""
        self.cdn = ""

    # --- content -----------------------------------------------------------------------

    def add(
        self, repo_id: str, path: str, data: bytes, revision: str = "main", lfs: bool | None = None
    ) -> Served:
        served = Served(data, path.endswith(LFS_SUFFIXES) if lfs is None else lfs)
        with self._lock:
            self._repos.setdefault((repo_id, revision), {})[path] = served
        return served

    def add_plain(self, path: str, data: bytes) -> Served:
        served = Served(data, lfs=True)
        with self._lock:
            self._plain[path] = served
        return served

    def plain_url(self, folder: str = "") -> str:
        return f"{self.endpoint}/files/{folder}".rstrip("/") + "/"

    def cut(self, served: Served, after: int, times: int = 1) -> None:
        with self._lock:
            served.cuts.extend([after] * times)

    def commit(self, repo_id: str, revision: str) -> str:
        return hashlib.sha1(f"{repo_id}@{revision}".encode()).hexdigest()

    def gets(self, contains: str) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.method == "GET" and contains in r.path]

    # --- lifetime ----------------------------------------------------------------------

    def start(self) -> FakeHub:
        for role in ("hub", "cdn"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
            server.daemon_threads = True
            server.block_on_close = False
            server.hub = self  # type: ignore[attr-defined]
            server.role = role  # type: ignore[attr-defined]
            thread = threading.Thread(
                target=server.serve_forever, args=(0.02,), name=f"fake-hf-{role}", daemon=True
            )
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        self.endpoint = f"http://127.0.0.1:{self._servers[0].server_address[1]}"
        self.cdn = f"http://127.0.0.1:{self._servers[1].server_address[1]}"
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers.clear()
        self._threads.clear()

    def __enter__(self) -> FakeHub:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- lookups for the handler ---------------------------------------------------------

    def _resolve(self, repo_id: str, revision: str, path: str) -> tuple[int, Served | None, str]:
        with self._lock:
            if not any(r == repo_id for r, _ in self._repos):
                return 404, None, "RepoNotFound"
            files = self._repos.get((repo_id, revision))
            if files is None:
                return 404, None, "RevisionNotFound"
            served = files.get(path)
        return (200, served, "") if served is not None else (404, None, "EntryNotFound")

    def _blob(self, sha256: str) -> Served | None:
        with self._lock:
            for files in self._repos.values():
                for served in files.values():
                    if served.lfs and served.sha256 == sha256:
                        return served
        return None

    def _take_cut(self, served: Served) -> int | None:
        with self._lock:
            return served.cuts.pop(0) if served.cuts else None


_RESOLVE = re.compile(r"/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "FakeHub/1.0"

    @property
    def hub(self) -> FakeHub:
        return self.server.hub  # type: ignore[attr-defined]

    @property
    def role(self) -> str:
        return self.server.role  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: object) -> None:  # quiet tests
        pass

    def do_HEAD(self) -> None:
        self._route()

    def do_GET(self) -> None:
        self._route()

    def _route(self) -> None:
        path = unquote(urlsplit(self.path).path)
        with self.hub._lock:
            self.hub.requests.append(Recorded(self.role, self.command, path, dict(self.headers.items())))
        if self.role == "cdn":
            match = re.fullmatch(r"/blobs/([0-9a-f]{64})", path)
            served = self.hub._blob(match.group(1)) if match else None
            if served is None:
                self._empty(404)
            else:
                self._bytes(served, {})
            return
        if path.startswith("/files/"):
            served = self.hub._plain.get(path[len("/files/") :])
            if served is None:
                self._empty(404)
            else:
                self._bytes(served, {})
            return
        match = _RESOLVE.fullmatch(path)
        if match is None:
            self._empty(404)
            return
        repo, rev, file_path = match.group("repo"), match.group("rev"), match.group("path")
        status, served, error = self.hub._resolve(repo, rev, file_path)
        commit = self.hub.commit(repo, rev)
        if served is None:
            self._empty(status, {"X-Error-Code": error, "X-Repo-Commit": commit})
            return
        if served.lfs:
            self._empty(302, {
                "Location": f"{self.hub.cdn}/blobs/{served.sha256}?X-Amz-Signature=test",
                "X-Repo-Commit": commit,
                "X-Linked-Etag": served.etag,
                "X-Linked-Size": str(len(served.data)),
                "ETag": served.etag,
            })
            return
        self._bytes(served, {"X-Repo-Commit": commit})

    def _empty(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def _bytes(self, served: Served, headers: dict[str, str]) -> None:
        data = served.data if served.tamper is None else served.tamper
        start, end, status = 0, len(data) - 1, 200
        wanted = self.headers.get("Range")
        if_range = self.headers.get("If-Range")
        if wanted and (if_range is None or if_range == served.etag):
            match = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
            if match:
                start = int(match.group(1))
                if start >= len(data):
                    self._empty(416, {"Content-Range": f"bytes */{len(data)}"})
                    return
                end = min(int(match.group(2)), end) if match.group(2) else end
                status = 206
        body = data[start : end + 1]
        self.send_response(status)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.send_header("ETag", served.etag)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
        for k, v in headers.items():
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        cut = self.hub._take_cut(served)
        sent = 0
        try:
            while sent < len(body):
                if cut is not None and sent >= cut:
                    self._drop()
                    return
                step = self.hub.chunk if cut is None else min(self.hub.chunk, cut - sent)
                self.wfile.write(body[sent : sent + step])
                self.wfile.flush()
                sent += step
                if self.hub.delay:
                    time.sleep(self.hub.delay)
        except OSError:  # the client went away (a cancelled download)
            self.close_connection = True

    def _drop(self) -> None:
        """End the connection mid-body, as a flaky network does."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
