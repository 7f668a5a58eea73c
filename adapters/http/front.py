"""What stands in front of the API in ``relengotron serve``: Greenwave's CORS headers,
request limits, and the decision route's fast path.

* **CORS** (``[api] cors_url``), as Greenwave's ``greenwave/utils.py`` ``insert_headers``
  does it: ``Access-Control-Allow-Origin: <cors_url>`` (the configured URL, whatever the
  request's ``Origin``), ``Access-Control-Allow-Headers: Content-Type`` and
  ``Access-Control-Allow-Method: POST, OPTIONS`` (Greenwave's singular spelling; the
  standard ``Access-Control-Allow-Methods`` is sent beside it) on ``/api/v1.0/about``,
  ``/api/v1.0/policies``, ``OPTIONS`` and ``POST /api/v1.0/decision``, and on every JSON
  error (Greenwave's ``json_error``). ``OPTIONS /api/v1.0/decision`` is answered as
  Flask's default options response: 200, ``Allow: OPTIONS, POST``, empty (and
  ``OPTIONS`` of ``/about`` and ``/policies`` as Flask's automatic one, without CORS).
* **Limits**: a request body over ``[api] max_body_bytes`` is 413, refused from its
  ``Content-Length`` or as soon as the bytes read pass the limit (never buffered whole);
  more than ``[api] max_subjects`` subjects is 400 (``adapters.http.app``).
* **Decisions** (:class:`Decisions`): the store must be the one opened and readable, and
  the read models must have folded the whole log (``adapters.http.catchup``), else 503
  with ``Retry-After``. Small requests are answered on the event loop (a thread hop
  costs as much as the answer); large ones in a bounded thread pool, so that a request
  with hundreds of subjects does not hold up ``/healthcheck`` or one-subject decisions.
* **Request metrics**: every answer, the fast path's included, is counted with its
  method, route template and status, and timed (``adapters.http.metrics``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import orjson

from relengotron.adapters.http.catchup import Readiness
from relengotron.adapters.http.guard import StoreUnavailable
from relengotron.adapters.http.metrics import UNMATCHED, Metrics
from relengotron.adapters.settings import ApiSettings

__all__ = ["DECISION_PATH", "Decisions", "Front", "message"]

DECISION_PATH = "/api/v1.0/decision"
#: Greenwave's routes that call ``insert_headers`` (plus every JSON error).
CORS_PATHS = frozenset({DECISION_PATH, "/api/v1.0/about", "/api/v1.0/policies"})
#: Bodies up to this size are answered on the event loop (Bodhi asks 8 subjects at a
#: time, about 700 bytes); larger ones in the decision threads.
INLINE_BYTES = 2048
RETRY_BEHIND, RETRY_LOST, RETRY_BUSY = "1", "10", "1"
IO_THREADS = 8
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FRESH_PATHS = ("/api/v1/builds", "/api/v1/decisions", "/api/v1/page/", "/api/v2.0/results")
_STORE_PATHS = ("/api/", "/metrics")  # routes that read the store (not /healthcheck: its own)
_JSON = b"application/json"

Headers = list[tuple[bytes, bytes]]
Answer = tuple[int, bytes, Headers]


def message(text: str) -> bytes:
    return orjson.dumps({"message": text})


def cors_headers(settings: ApiSettings) -> Headers:
    if not settings.cors_url:
        return []
    return [
        (b"access-control-allow-origin", settings.cors_url.encode("latin-1")),
        (b"access-control-allow-headers", b"Content-Type"),
        (b"access-control-allow-method", b"POST, OPTIONS"),
        (b"access-control-allow-methods", b"POST, OPTIONS"),
    ]


class Decisions:
    """``POST /api/v1.0/decision`` with its guards, for the fast path and the route."""

    def __init__(
        self,
        answer: Callable[[str | None, bytes], Answer],
        settings: ApiSettings,
        readiness: Readiness | None = None,
    ) -> None:
        self.answer = answer
        self.settings = settings
        self.readiness = readiness
        self.pool = ThreadPoolExecutor(
            max_workers=settings.decision_threads, thread_name_prefix="relengotron-decision"
        )
        # A store over the network: its checks and small answers wait on the network in
        # threads of their own (never on the event loop, never behind large requests).
        self.io_pool = (
            ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="relengotron-io")
            if readiness is not None and readiness.remote
            else None
        )
        self.queue_limit = settings.decision_threads * 16
        self.queued = 0

    def too_large(self) -> Answer:
        limit = self.settings.max_body_bytes
        text = f"Request body too large: more than {limit} bytes (the limit, [api] max_body_bytes)"
        return 413, message(text), []

    async def respond(self, content_type: str | None, raw: bytes) -> Answer:
        if len(raw) > self.settings.max_body_bytes:
            return self.too_large()
        readiness = self.readiness
        try:
            stale = await self.catch_up()
            if stale is not None:
                return stale
            if len(raw) <= INLINE_BYTES and self.io_pool is None:
                return self.answer(content_type, raw)  # under a millisecond, from now
            if len(raw) <= INLINE_BYTES and self.io_pool is not None:
                loop = asyncio.get_running_loop()
                answer = await loop.run_in_executor(self.io_pool, self.answer, content_type, raw)
            else:
                if self.queued >= self.queue_limit:
                    text = "Too many large decision requests at once; retry later"
                    return 503, message(text), [(b"retry-after", RETRY_BUSY.encode())]
                self.queued += 1
                try:
                    loop = asyncio.get_running_loop()
                    answer = await loop.run_in_executor(self.pool, self.answer, content_type, raw)
                finally:
                    self.queued -= 1
            if readiness is not None:
                readiness.guard.verify()  # the store went away while answering
        except StoreUnavailable as exc:
            return unavailable(str(exc))
        return answer

    async def catch_up(self, what: str = "no decision is made") -> Answer | None:
        """Wait until the read models reflect the whole log: None, or the 503 to answer
        (StoreUnavailable when the store is lost)."""
        readiness = self.readiness
        if readiness is None:
            return None
        if self.io_pool is not None:
            head = await readiness.behind_off_loop(self.io_pool)
        else:
            head = readiness.behind()
        if head is not None and not await readiness.wait(head):
            readiness.guard.verify()  # lost while waiting: say that instead
            return self._behind(head, what)
        return None

    def _behind(self, head: int, what: str = "no decision is made") -> Answer:
        assert self.readiness is not None
        timeout = self.readiness.timeout
        text = (
            f"The read models are behind the log (folded up to {self.readiness.folded}, "
            f"the log's head {head}) and "
            f"did not catch up within {timeout:g} s; {what} from stale data. "
            "Retry later."
        )
        return 503, message(text), [(b"retry-after", RETRY_BEHIND.encode())]


def unavailable(why: str, what: str = ", no decision is made") -> Answer:
    text = f"The store cannot be read{what}: {why}"
    return 503, message(text), [(b"retry-after", RETRY_LOST.encode())]


class _TooLarge(Exception):
    pass


class _Gone(Exception):
    pass


class Front:
    """The ASGI application ``serve`` runs: this in front of the FastAPI app."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.decisions: Decisions = app.state.decisions
        self.settings: ApiSettings = self.decisions.settings
        self.cors = cors_headers(self.settings)
        self.metrics: Metrics = app.state.metrics

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Request metrics (``adapters.http.metrics``): the status as sent, the time to
        # the last byte, the route's template (set in the scope by the router).
        started = time.perf_counter()
        status = 0

        async def sending(msg: Any) -> None:
            nonlocal status
            if msg["type"] == "http.response.start":
                status = msg["status"]
            await send(msg)

        try:
            await self._serve(scope, receive, sending)
        finally:
            if status:  # else the client left before any answer
                route = scope.get("route")
                path = getattr(route, "path", None)
                if path is None:
                    path = scope["path"].rstrip("/") or "/"
                    path = path if path in CORS_PATHS else UNMATCHED
                elapsed = time.perf_counter() - started
                self.metrics.observe(scope["method"], path, status, elapsed)

    async def _serve(self, scope: Any, receive: Any, send: Any) -> None:
        method = scope["method"]
        path = scope["path"].rstrip("/") or "/"
        decision = path == DECISION_PATH
        if method == "OPTIONS" and path in CORS_PATHS:
            # Flask's default options response; Greenwave adds the CORS headers to the
            # decision's only (the others are Flask's automatic OPTIONS).
            allow = b"OPTIONS, POST" if decision else b"GET, HEAD, OPTIONS"
            headers = [(b"allow", allow), (b"content-length", b"0"),
                       (b"content-type", b"text/html; charset=utf-8")]  # fmt: skip
            if decision:
                headers += self.cors
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        if method in _BODY_METHODS:
            try:
                body = await self._body(scope, receive)
            except _TooLarge:
                await self._reply(send, self.decisions.too_large(), json_cors=True)
                return
            except _Gone:
                return
            if decision and method == "POST":
                content_type = None
                for name, value in scope["headers"]:
                    if name == b"content-type":
                        content_type = value.decode("latin-1")
                        break
                answer = await self.decisions.respond(content_type, body)
                await self._reply(send, answer, json_cors=True)
                return
            receive = _replay(body, receive)
        readiness = self.decisions.readiness
        if readiness is not None and path.startswith(_STORE_PATHS):
            try:
                readiness.guard.verify()
                # The read API (builds, recorded decisions) answers from the read
                # models as they stand after every message recorded before it too.
                stale = None
                if method == "GET" and path.startswith(_FRESH_PATHS):
                    stale = await self.decisions.catch_up("nothing is answered")
            except StoreUnavailable as exc:
                stale = unavailable(str(exc), "")
            if stale is not None:
                await self._reply(send, stale, json_cors=True)
                return
        if self.cors:
            send = self._with_cors(send, path in CORS_PATHS)
        await self.app(scope, receive, send)

    async def _body(self, scope: Any, receive: Any) -> bytes:
        limit = self.settings.max_body_bytes
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    if int(value) > limit:
                        raise _TooLarge
                except ValueError:
                    pass
                break
        chunks, size = [], 0
        while True:
            msg = await receive()
            if msg["type"] == "http.disconnect":
                raise _Gone
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise _TooLarge
            chunks.append(chunk)
            if not msg.get("more_body"):
                return b"".join(chunks)

    async def _reply(self, send: Any, answer: Answer, *, json_cors: bool) -> None:
        status, body, extra = answer
        headers = [(b"content-type", _JSON), (b"content-length", str(len(body)).encode())]
        headers += extra
        if self.cors and json_cors:
            headers += self.cors
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _with_cors(self, send: Any, always: bool) -> Callable[[Any], Awaitable[None]]:
        cors = self.cors

        async def sending(msg: Any) -> None:
            if msg["type"] == "http.response.start":
                headers = list(msg.get("headers", ()))
                is_json = any(n == b"content-type" and v.startswith(_JSON) for n, v in headers)
                if always or (msg["status"] >= 400 and is_json):
                    msg = {**msg, "headers": headers + cors}
            await send(msg)

        return sending


def _replay(body: bytes, receive: Any) -> Callable[[], Awaitable[Any]]:
    """A ``receive`` that hands the app the body already read, then the real one."""
    sent = False

    async def replay() -> Any:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
