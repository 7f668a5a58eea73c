"""The koji gateway: read builds and tags, move builds between tags exactly once.

``KojiGateway.move`` is idempotent and crash-safe: it reads each build's tags (and its
running tagging tasks) before any write, so re-running a move whose outcome was lost
(crash, timeout) finds the build moved (``already``) instead of moving it twice.

Koji facts this relies on (koji 1.3x, ``koji.ClientSession`` over XML-RPC):

* ``moveBuild(tag1, tag2, build)`` is ``tagBuild(tag2, build, fromtag=tag1)``: the hub
  checks access and policy, then returns a task id; the *task* untags and tags (one
  transaction) and fails ("already tagged", "not in tag") if the tags changed meanwhile.
  ``untagBuild(tag, build, strict=False)`` is synchronous and tolerates absence.
* multicall results are one-element lists, faults ``{"faultCode", "faultString"}``
  dicts, turned into koji exceptions by ``koji.convertFault``.
* ``ClientSession`` retries by itself unless ``max_retries`` is 0 (then a call is tried
  once, but for one re-send on a reset keep-alive connection); ``timeout`` is each call's
  requests timeout; ``gssapi_login`` loops ``range(max_retries)``: it gets its own.
"""

from __future__ import annotations

import contextlib
import http.client
import time
import xml.parsers.expat
import xmlrpc.client
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, TypeVar

import koji
import requests

from relengotron.adapters.koji.koji_values import (
    ALREADY,
    FAILED,
    GONE,
    MOVED,
    TRANSIENT,
    WOULD_MOVE,
    KojiAuth,
    KojiLoginError,
    KojiUnavailable,
    Move,
    MoveResult,
)

BATCH = 200  # calls per multiCall request
_STATE = koji.TASK_STATES
_UNFINISHED = [_STATE["FREE"], _STATE["OPEN"], _STATE["ASSIGNED"]]
_ENDED = (_STATE["CLOSED"], _STATE["FAILED"], _STATE["CANCELED"])
# what a call can raise (requests' exceptions are OSErrors; a cut answer is an ExpatError):
_KOJI_ERRORS = (koji.GenericError, xmlrpc.client.Fault, OSError, http.client.HTTPException,
                xml.parsers.expat.ExpatError)  # fmt: skip
T = TypeVar("T")
Call = tuple[str, tuple[Any, ...], dict[str, Any]]


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: the hub is offline or the call did not get through (or back)."""
    if isinstance(exc, (koji.RetryError, koji.ServerOffline)):
        return True
    if isinstance(exc, (koji.GenericError, xmlrpc.client.Fault)):
        return False  # the hub answered: a refusal
    if isinstance(exc, requests.exceptions.HTTPError):
        status = getattr(exc.response, "status_code", None)
        return status is None or status >= 500 or status in (408, 429)
    if isinstance(exc, requests.exceptions.SSLError) and koji.is_requests_cert_error(exc):
        return False
    return isinstance(exc, _KOJI_ERRORS)


def _refusal(exc: Exception) -> str:
    """A write refused: for this build (FAILED), or for our session (TRANSIENT: fix auth)."""
    return TRANSIENT if isinstance(exc, koji.AuthError) else FAILED


class _Session(koji.ClientSession):
    """A ``ClientSession`` without retries of its own, except while logging in."""

    def gssapi_login(self, *args: Any, **kwargs: Any) -> bool:
        opts, saved = self.opts, dict(self.opts)  # (gssapi_login puts this dict back)
        opts.update(max_retries=opts["login_retries"], retry_interval=opts["login_wait"])
        try:
            return bool(super().gssapi_login(*args, **kwargs))
        finally:
            opts.update(max_retries=saved["max_retries"], retry_interval=saved["retry_interval"])


class _Seen(NamedTuple):
    build: dict[str, Any] | None
    tags: list[str]
    task: int | None  # an unfinished tagBuild task for the build
    error: str = ""


class KojiGateway:
    """koji reads, and ``move`` (see the module docstring). Not thread-safe.

    Reads (``build``, ``tags_of``, ``tagged``) retry transient errors, then raise
    ``KojiUnavailable``; koji's refusals raise koji exceptions. ``move`` raises only
    ``KojiLoginError`` (before any write)."""

    def __init__(
        self, hub: str, auth: KojiAuth | None = None, *, timeout: float = 60.0,
        retries: int = 4, backoff: float = 1.0, task_timeout: float = 900.0,
        poll_interval: float = 2.0, sleep: Callable[[float], None] = time.sleep,
    ) -> None:  # fmt: skip
        self.hub, self.auth = hub, auth or KojiAuth()
        self.auth.validate()
        self.retries, self.backoff, self.sleep = retries, backoff, sleep
        self.task_timeout, self.poll_interval = task_timeout, poll_interval
        opts: dict[str, Any] = {
            "timeout": timeout, "auth_timeout": timeout, "max_retries": 0,
            "retry_interval": 0, "anon_retry": False, "offline_retry": False,
            "login_retries": max(1, retries), "login_wait": backoff,  # ours (gssapi_login)
        }  # fmt: skip
        if self.auth.serverca:
            opts["serverca"] = self.auth.serverca
        self._session = _Session(hub, opts)

    def build(self, nvr: str) -> dict[str, Any] | None:
        return self._read(lambda: self._session.getBuild(nvr))

    def tags_of(self, nvr: str) -> list[str]:
        """The build's tags, sorted; [] for an unknown build."""
        seen = self._read(lambda: self._look([nvr], tasks=False))[0]
        if seen.error:
            raise koji.GenericError(seen.error)
        return seen.tags

    def tagged(self, tag: str) -> list[str]:
        """NVRs tagged in ``tag`` now (no inheritance), sorted."""
        return sorted(b["nvr"] for b in self._read(lambda: self._session.listTagged(tag)))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._session.logout()  # (only if logged in)
        self._session.rsession.close()

    def move(self, moves: Sequence[Move], *, dry_run: bool = False) -> list[MoveResult]:
        """One result per move, same order; see the module docstring for the outcomes."""
        return _MoveRun(self, moves, dry_run).run()

    def _read(self, fn: Callable[[], T], on_retry: Callable[[], object] = lambda: None) -> T:
        """Call ``fn``, retrying transient errors with exponential backoff."""
        tries = 0
        while True:
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                if tries >= self.retries:
                    raise KojiUnavailable(
                        f"koji at {self.hub} unavailable after {tries + 1} tries: {exc}"
                    ) from exc
                self.sleep(self.backoff * 2**tries)
                tries += 1
                on_retry()

    def _multicall(self, calls: list[Call]) -> list[Any]:
        """One ``multiCall`` (in batches); each result, or the koji exception it raised."""
        if not calls:
            return []
        mc = self._session.multicall(strict=False, batch=BATCH)
        for name, args, kwargs in calls:
            mc.callMethod(name, *args, **kwargs)
        return [
            r[0] if isinstance(r, list)
            else koji.convertFault(xmlrpc.client.Fault(r["faultCode"], r["faultString"]))
            for r in mc.call_all()
        ]  # fmt: skip

    def _look(self, nvrs: Sequence[str], tasks: bool = True) -> list[_Seen]:
        """Each build, its tags and an unfinished tagBuild task for it, in one multicall."""
        calls: list[Call] = []
        for nvr in nvrs:
            calls += [("getBuild", (nvr,), {}), ("listTags", (), {"build": nvr})]
        opts = {"method": "tagBuild", "state": _UNFINISHED, "decode": True}
        out = self._multicall(calls + ([("listTasks", (), {"opts": opts})] if tasks else []))
        running: dict[int, int] = {}  # build id -> task id (request: tag, build, force, from)
        for task in out[-1] if tasks and isinstance(out[-1], list) else []:
            request = task.get("request") or []
            if len(request) > 1 and isinstance(request[1], int):
                running.setdefault(request[1], task["id"])
        seen = []
        for build, tags in zip(out[0 : 2 * len(nvrs) : 2], out[1 : 2 * len(nvrs) : 2], strict=True):
            if isinstance(build, dict) and isinstance(tags, list):
                names = sorted(t["name"] for t in tags)
                seen.append(_Seen(build, names, running.get(build["id"])))
            else:  # unknown (None), or a fault
                problem = build if isinstance(build, Exception) else build and tags
                seen.append(_Seen(None, [], None, str(problem or "")))
        return seen

    def session(self) -> koji.ClientSession:
        """The hub session, logged in (for calls other than moves: compose tasks)."""
        self._login()
        return self._session

    def _login(self) -> None:
        """Log in once, before the first write ("none": stay anonymous)."""
        if self._session.logged_in or self.auth.method == "none":
            return
        try:
            if self.auth.method == "ssl":
                self._session.ssl_login(cert=self.auth.cert, serverca=self.auth.serverca)
            else:
                self._session.gssapi_login(principal=self.auth.principal, keytab=self.auth.keytab)
        except Exception as exc:
            raise KojiLoginError(f"koji {self.auth.method} login to {self.hub}: {exc}") from exc


class _MoveRun:
    """One ``KojiGateway.move`` call: rounds of read, classify, write, wait."""

    def __init__(self, gw: KojiGateway, moves: Sequence[Move], dry_run: bool) -> None:
        self.gw, self.moves, self.dry_run = gw, list(moves), dry_run
        self.results: list[MoveResult | None] = [None] * len(self.moves)
        self.retried = 0  # transient errors absorbed so far (attempts = 1 + retried)
        self.earlier: dict[int, int] = {}  # move -> a task not ours that we waited for

    def settle(self, i: int, outcome: str, detail: str, task_id: int | None = None) -> None:
        if self.results[i] is None:
            m, attempts = self.moves[i], 1 + self.retried
            self.results[i] = MoveResult(m.action_id, m.nvr, outcome, detail, task_id, attempts)

    def unsettled(self) -> list[int]:
        return [i for i, r in enumerate(self.results) if r is None]

    def count_retry(self) -> None:
        self.retried += 1

    def read(self, calls: list[Call]) -> list[Any]:
        return self.gw._read(lambda: self.gw._multicall(calls), self.count_retry)

    def run(self) -> list[MoveResult]:
        failures = rounds = 0
        while todo := self.unsettled():
            rounds += 1
            if rounds > self.gw.retries + 4:  # other tasks keep moving these builds
                for i in todo:
                    self.settle(i, TRANSIENT, "other koji tasks keep moving it; try later")
                break
            try:
                self.round(todo)
            except _KOJI_ERRORS as exc:  # a whole call failed: the round is read again
                if not is_transient(exc) or failures >= self.gw.retries:
                    why = f"unavailable after {failures + 1} tries" if is_transient(exc) else (
                        "refused the call (a configuration problem?)")  # fmt: skip
                    for i in self.unsettled():
                        self.settle(i, TRANSIENT, f"koji {why}: {exc}")
                else:
                    self.gw.sleep(self.gw.backoff * 2**failures)
                    failures += 1
                    self.count_retry()
        return [r for r in self.results if r is not None]

    def round(self, todo: list[int]) -> None:
        """Read the tags; settle what needs no write; untag stale, move, wait for tasks."""
        seen = self.gw._look([self.moves[i].nvr for i in todo], tasks=True)
        stale: list[int] = []
        to_move: list[int] = []
        others: dict[int, int] = {}  # unfinished task of someone (or of a lost call) -> move
        for i, s in zip(todo, seen, strict=True):
            m = self.moves[i]
            here, there = m.from_tag in s.tags, m.to_tag in s.tags
            if s.build is None:
                self.settle(i, FAILED, f"cannot read {m.nvr}: {s.error}" if s.error
                            else f"no such build {m.nvr}")  # fmt: skip
            elif there and not here:
                by = f" (moved by task {self.earlier[i]})" if i in self.earlier else ""
                self.settle(i, ALREADY, f"already in {m.to_tag}{by}", self.earlier.get(i))
            elif there and self.dry_run:
                self.settle(i, ALREADY, f"already in {m.to_tag}; would remove {m.from_tag}")
            elif there:
                stale.append(i)
            elif not here:
                tags = ", ".join(s.tags) or "none"
                self.settle(i, GONE, f"not in {m.from_tag} any more (tags: {tags}); nothing done")
            elif self.dry_run:
                after = f" after task {s.task}" if s.task is not None else ""
                self.settle(i, WOULD_MOVE, f"would move {m.from_tag} -> {m.to_tag}{after}")
            elif s.task is not None:
                others[s.task] = i
            else:
                to_move.append(i)
        if stale or to_move:
            self.gw._login()
        calls = [("untagBuild", (self.moves[i].from_tag, self.moves[i].nvr), {"strict": False})
                 for i in stale]  # fmt: skip
        for i, res in zip(stale, self.gw._multicall(calls), strict=True):
            m = self.moves[i]
            if isinstance(res, Exception):
                self.settle(i, _refusal(res), f"untagBuild {m.from_tag} refused: {res}")
            else:
                self.settle(i, ALREADY, f"already in {m.to_tag}; removed the stale {m.from_tag}")
        self.wait(self.start(to_move), others)

    def start(self, to_move: list[int]) -> dict[int, int]:
        """``moveBuild`` for each, in one multicall; task id -> move."""
        calls: list[Call] = [("moveBuild", (m.from_tag, m.to_tag, m.nvr), {})
                 for m in (self.moves[i] for i in to_move)]  # fmt: skip
        tasks = {}
        for i, res in zip(to_move, self.gw._multicall(calls), strict=True):
            if isinstance(res, Exception):
                self.settle(i, _refusal(res), f"moveBuild refused: {res}")
            else:
                tasks[int(res)] = i
        return tasks

    def wait(self, ours: dict[int, int], others: dict[int, int]) -> None:
        """Poll the tasks until they end or ``task_timeout`` passes; settle ours."""
        pending, failed = {**others, **ours}, []
        waited, started = 0.0, time.monotonic()
        while pending:
            ids = list(pending)
            try:
                infos = self.read([("getTaskInfo", (t,), {}) for t in ids])
                ended = {t: i["state"] for t, i in zip(ids, infos, strict=True)
                         if isinstance(i, dict) and i.get("state") in _ENDED}  # fmt: skip
                bad = [t for t, state in ended.items() if state != _STATE["CLOSED"]]
                texts = self.read([("getTaskResult", (t,), {}) for t in bad])
                why = dict(zip(bad, texts, strict=True))
            except (KojiUnavailable, *_KOJI_ERRORS) as exc:
                for t, i in pending.items():
                    self.settle(i, TRANSIENT, f"task {t} started; its state is unknown: {exc}", t)
                break
            for t, state in ended.items():
                m = self.moves[i := pending.pop(t)]
                if t in others:
                    self.earlier[i] = t  # settled by the next round's read
                elif state == _STATE["CLOSED"]:
                    self.settle(i, MOVED, f"moved {m.from_tag} -> {m.to_tag} by task {t}", t)
                else:
                    text = why[t] if isinstance(why[t], Exception) else _STATE[state].lower()
                    failed.append((i, t, str(text)))
            if pending and max(waited, time.monotonic() - started) >= self.gw.task_timeout:
                for t, i in pending.items():
                    self.settle(i, TRANSIENT, f"task {t} still running", t)
                break
            if pending:
                self.gw.sleep(self.gw.poll_interval)
                waited += self.gw.poll_interval
        self.settle_failed(failed)

    def settle_failed(self, failed: list[tuple[int, int, str]]) -> None:
        """A failed task may have lost a race to an earlier identical one: read again."""
        if not failed:
            return
        nvrs = [self.moves[i].nvr for i, _, _ in failed]
        try:
            seen = self.gw._read(lambda: self.gw._look(nvrs, tasks=False), self.count_retry)
        except (KojiUnavailable, *_KOJI_ERRORS):
            seen = [_Seen(None, [], None)] * len(failed)
        for (i, t, text), s in zip(failed, seen, strict=True):
            m = self.moves[i]
            if m.to_tag in s.tags and m.from_tag not in s.tags:
                self.settle(i, ALREADY, f"already in {m.to_tag}; task {t} failed: {text}", t)
            else:
                self.settle(i, FAILED, f"task {t} failed: {text}", t)
