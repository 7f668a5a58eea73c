"""A PostgreSQL server that stops answering (a network partition, not a refused
connection) must not stall ``relengotron serve``: ``/healthcheck`` and decisions answer
503 within ``[api] catch_up_timeout``, instead of waiting on the socket with the whole
event loop.

The service itself is never stopped: the store is reached through a TCP proxy of ours
that, once frozen, accepts and holds connections and forwards nothing.
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from tests.conftest import PG_URL, _service_missing
from tests.e2e.test_serve_load import _call, _free_port, _serve
from tests.integration.test_http_front import DECISION, NVR, Site, request


class FreezingProxy:
    """TCP proxy to PostgreSQL; ``freeze()`` makes it a black hole."""

    def __init__(self, upstream: tuple[str, int]) -> None:
        self.upstream = upstream
        self.frozen = threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.sockets.append(client)
            if self.frozen.is_set():
                continue  # accepted, never answered
            server = socket.create_connection(self.upstream)
            self.sockets.append(server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                while self.frozen.is_set():  # hold it: nothing gets through
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass

    def freeze(self) -> None:
        self.frozen.set()

    def close(self) -> None:
        self.frozen.clear()
        self.listener.close()
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.close()


def test_a_postgresql_that_stops_answering_is_503_within_the_bound(tmp_path: Path) -> None:
    try:
        import psycopg

        admin = psycopg.connect(
            PG_URL.replace("postgresql+psycopg://", "postgresql://"),
            autocommit=True,
            connect_timeout=3,
        )
    except Exception as exc:
        _service_missing("PostgreSQL at 127.0.0.1:5432", str(exc).strip().splitlines()[0])
    name = "gw_http_" + uuid.uuid4().hex[:10]
    admin.execute(f'CREATE DATABASE "{name}"')
    proxy = FreezingProxy(("127.0.0.1", 5432))
    proc = None
    try:
        site = Site(tmp_path, db=f"postgresql+psycopg://postgres@127.0.0.1:{proxy.port}/{name}")
        site.app.close()
        site.settings(project_interval=1, catch_up_timeout=1.0)
        port = _free_port()
        proc = _serve(site, port, tmp_path / "serve.log")
        body = orjson.dumps(request(NVR))
        assert _call(port, "POST", DECISION, body)[0] == 200
        proxy.freeze()
        for method, path, payload in (("GET", "/healthcheck", None),
                                      ("POST", DECISION, body)):  # fmt: skip
            try:
                status, took = _call(port, method, path, payload, timeout=20)
            except TimeoutError:
                pytest.fail(f"{method} {path}: no answer in 20 s (the event loop is stalled)")
            assert status == 503, (method, path)
            assert took < 10, (method, path, took)
        # And it stops when told to, though threads still wait on the frozen server
        # (uvicorn re-raises the SIGTERM it caught once it has shut down: the process
        # does not wait to join them).
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            pytest.fail("serve did not stop on SIGTERM within 20 s")
    finally:
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=20)
        proxy.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()
