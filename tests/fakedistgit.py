"""A fake dist-git (pagure) on 127.0.0.1: real git repositories, made with the ``git``
CLI (one file per commit), served over pagure's raw-file URLs
``/{namespace}/{name}/raw/{rev}/f/{path}`` (200 with the bytes, 404 when the file or
the commit is not there, as src.fedoraproject.org answers). Test controls: answer 503
to the next requests, or hang (longer than the client's timeout), or stop altogether.
"""

from __future__ import annotations

import http.server
import re
import subprocess
import threading
import time
from pathlib import Path

_RAW = re.compile(
    r"^/(?:(?P<ns>[^/]+)/)?(?P<name>[^/]+)/raw/(?P<rev>[0-9a-f]{7,40})/f/(?P<path>.+)$"
)


def git(repo: Path, *args: str) -> str:
    env = {
        "GIT_AUTHOR_NAME": "packager",
        "GIT_AUTHOR_EMAIL": "packager@example.org",
        "GIT_COMMITTER_NAME": "packager",
        "GIT_COMMITTER_EMAIL": "packager@example.org",
        "GIT_AUTHOR_DATE": "2026-01-01T00:00:00Z",
        "GIT_COMMITTER_DATE": "2026-01-01T00:00:00Z",
        "PATH": "/usr/bin:/bin:/usr/local/bin",
        "HOME": str(repo),
    }
    out = subprocess.run(
        ["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env
    )
    return out.stdout.strip()


class FakeDistGit:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._errors: list[int] = []
        self._hang: list[float] = []
        self._server: http.server.ThreadingHTTPServer | None = None

    # ------------------------------------------------------------ repositories

    def repo(self, namespace: str, name: str) -> Path:
        path = self.root / namespace / f"{name}.git"
        if not path.exists():
            path.mkdir(parents=True)
            git(path, "init", "-q", "-b", "rawhide")
        return path

    def commit(self, namespace: str, name: str, path: str, content: str) -> str:
        """Commit one file; the new commit's hash."""
        repo = self.repo(namespace, name)
        (repo / path).write_text(content)
        git(repo, "add", path)
        git(repo, "commit", "-q", "-m", f"update {path}")
        return git(repo, "rev-parse", "HEAD")

    def read(self, namespace: str, name: str, rev: str, path: str) -> bytes | None:
        repo = self.root / namespace / f"{name}.git"
        if not repo.exists():
            return None
        out = subprocess.run(["git", "-C", str(repo), "show", f"{rev}:{path}"], capture_output=True)
        return out.stdout if out.returncode == 0 else None

    # ------------------------------------------------------------ controls

    def error_next(self, times: int = 1, status: int = 503) -> None:
        with self._lock:
            self._errors.extend([status] * times)

    def hang_next(self, times: int = 1, seconds: float = 2.0) -> None:
        with self._lock:
            self._hang.extend([seconds] * times)

    # ------------------------------------------------------------ server

    def start(self) -> FakeDistGit:
        fake = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                with fake._lock:
                    fake.requests.append(self.path)
                    error = fake._errors.pop(0) if fake._errors else None
                    hang = fake._hang.pop(0) if fake._hang else None
                if hang is not None:
                    time.sleep(hang)
                if error is not None:
                    return self._answer(error, b"Service Unavailable")
                m = _RAW.match(self.path)
                if m is None:
                    return self._answer(404, b"Not Found")
                body = fake.read(m["ns"] or "", m["name"], m["rev"], m["path"])
                if body is None:
                    return self._answer(404, b"Not Found")
                return self._answer(200, body)

            def _answer(self, status: int, body: bytes) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "text/plain; charset=UTF-8")
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def template(self) -> str:
        """Greenwave's dist-git URL template, on this server."""
        return self.url + "/{pkg_namespace}{pkg_name}/raw/{rev}/f/gating.yaml"
