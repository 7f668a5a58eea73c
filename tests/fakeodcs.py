"""A fake ODCS on 127.0.0.1: ``POST /api/1/composes/`` records the compose and answers
``{"id", "state_name": "wait", ...}``; ``GET /api/1/composes/<id>`` answers it back.
Controls: answer the next requests with an error status (and ODCS's error body),
delay answers, and move a compose to another state."""

from __future__ import annotations

import http.server
import json
import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

import pytest

_STATES = {"wait": 0, "done": 2, "failed": 4, "generating": 1, "removed": 3, "expired": 6}


class FakeOdcs:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.composes: dict[int, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []  # every request: method, path, headers, body
        self._errors: list[tuple[int, str]] = []
        self._delay = 0.0
        self.errors: list[str] = []  # bugs of the fake itself
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> FakeOdcs:
        handler = type("Handler", (_Handler,), {"odcs": self})
        self._server = server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.block_on_close = False
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "ODCS not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ------------------------------------------------------------ test controls

    def error_next(self, status: int = 503, message: str = "Service Unavailable",
                   times: int = 1) -> None:  # fmt: skip
        """The next ``times`` requests get ``status`` with ODCS's error body."""
        with self._lock:
            self._errors.extend([(status, message)] * times)

    def delay(self, seconds: float) -> None:
        """Every answer waits ``seconds`` (0: no more)."""
        self._delay = seconds

    def set_state(self, compose_id: int, state_name: str, **fields: Any) -> None:
        with self._lock:
            self.composes[compose_id].update(
                state_name=state_name, state=_STATES[state_name], **fields
            )

    def posted(self) -> list[dict[str, Any]]:
        """The bodies of the composes created, in order."""
        with self._lock:
            return [c["request"] for c in self.composes.values()]

    # ------------------------------------------------------------ requests

    def handle(self, method: str, path: str, headers: dict[str, str], raw: bytes
               ) -> tuple[int, Any]:  # fmt: skip
        time.sleep(self._delay)
        with self._lock:
            body = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = raw.decode("utf-8", "replace")
            self.requests.append({"method": method, "path": path, "headers": headers,
                                  "body": body})  # fmt: skip
            if self._errors:
                status, message = self._errors.pop(0)
                return status, {"status": status, "error": "error", "message": message}
            parts = [p for p in path.split("?")[0].split("/") if p]
            if parts[:3] != ["api", "1", "composes"]:
                return 404, {"status": 404, "error": "Not Found", "message": "no such page"}
            if method == "POST" and len(parts) == 3:
                if not isinstance(body, dict) or not isinstance(body.get("source"), dict):
                    return 400, {"status": 400, "error": "Bad Request",
                                 "message": "Missing source configuration"}  # fmt: skip
                compose_id = len(self.composes) + 1
                source = body["source"]
                self.composes[compose_id] = compose = {
                    "id": compose_id, "state_name": "wait", "state": 0, "state_reason": None,
                    "source_type": {"tag": 1, "build": 5}.get(source.get("type"), 0),
                    "source": source.get("source"), "label": body.get("label"),
                    "arches": " ".join(body.get("arches") or []),
                    "result_repofile": f"{self.url}/composes/odcs-{compose_id}/compose.repo",
                    "request": body,
                }  # fmt: skip
                return 200, {k: v for k, v in compose.items() if k != "request"}
            if method == "GET" and len(parts) == 4 and parts[3].isdigit():
                found = self.composes.get(int(parts[3]))
                if found is None:
                    return 404, {"status": 404, "error": "Not Found",
                                 "message": "No such compose found."}  # fmt: skip
                return 200, {k: v for k, v in found.items() if k != "request"}
            return 405, {"status": 405, "error": "Method Not Allowed", "message": method}


class _Handler(http.server.BaseHTTPRequestHandler):
    odcs: FakeOdcs

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def _serve(self, method: str) -> None:
        try:
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                status, answer = self.odcs.handle(method, self.path, dict(self.headers), raw)
            except Exception:
                self.odcs.errors.append(traceback.format_exc())
                status, answer = 500, {"message": "fake ODCS bug"}
            data = json.dumps(answer).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            pass  # the client went away

    def do_POST(self) -> None:
        self._serve("POST")

    def do_GET(self) -> None:
        self._serve("GET")


@pytest.fixture
def fake_odcs() -> Iterator[FakeOdcs]:
    """A started fake ODCS (``odcs.url``); stopped afterwards, failing on bugs of the fake."""
    odcs = FakeOdcs().start()
    try:
        yield odcs
    finally:
        odcs.stop()
    assert not odcs.errors, "the fake ODCS crashed:\n" + "\n".join(odcs.errors)
