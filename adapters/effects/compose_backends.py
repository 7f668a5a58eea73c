"""Compose backends: ask koji, ODCS or a command for a compose of an artifact.

Each backend turns a compose order (see ``adapters.artifacts.kinds``) into one request,
through the artifact kind's hook for that backend, and says what came of it as a
:class:`Submission`: ``submitted`` (running; its ``ref`` names it), ``finished`` or
``failed`` (the backend already knows), ``transient`` (try again later: nothing is known
to have started) or ``would-submit`` (``dry_run``: nothing was called).

* :class:`KojiTaskBackend` calls the kind's hub method (``newRepo``, ``osbuildImage``,
  ``kiwiBuild``, ...) on a ``koji.ClientSession``; ref ``koji-task:<id>``. The hub's
  refusals fail; no answer (connection errors, HTTP 5xx, ``ServerOffline``) and
  ``AuthError`` (fix the login, then retry) are transient.
* :class:`OdcsBackend` POSTs ``{url}/api/1/composes/`` (stdlib ``urllib``); ref
  ``odcs:<id>``. 4xx fail with the server's message (but 408 and 429), 5xx and
  connection errors are transient.
* :class:`CommandBackend` runs a command with the order as JSON on stdin (see there).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import shlex
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol

import koji

from relengotron.adapters.artifacts.kinds import ArtifactKind
from relengotron.adapters.koji.koji_gateway import is_transient

SUBMITTED, FINISHED, FAILED, TRANSIENT, WOULD_SUBMIT = (
    "submitted", "finished", "failed", "transient", "would-submit",
)  # fmt: skip
STATUSES = ("FINISHED", "FAILED", "STARTED")
EX_TEMPFAIL = 75  # sysexits.h: "try again later"
_TAIL = 600


@dataclass(frozen=True)
class Submission:
    outcome: str  # SUBMITTED, FINISHED, FAILED, TRANSIENT or WOULD_SUBMIT
    ref: str | None  # "koji-task:<id>", "odcs:<id>", or what the command printed
    detail: str
    status: str | None = None  # FINISHED / FAILED / STARTED when the backend knows
    location: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class ComposeBackend(Protocol):
    name: str

    def submit(
        self, order: Mapping[str, Any], kind: ArtifactKind, *, dry_run: bool = False
    ) -> Submission: ...


def _tail(text: str, limit: int = _TAIL) -> str:
    text = text.strip()
    return text if len(text) <= limit else "..." + text[-limit:]


def _call_text(method: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return _tail(f"{method}({', '.join(parts)})", 300)


# ---------------------------------------------------------------------- koji


class KojiTaskBackend:
    """A koji task per compose (see the module docstring). Not thread-safe."""

    name = "koji"

    def __init__(self, session_factory: Callable[[], koji.ClientSession]) -> None:
        self.session_factory = session_factory
        self._session: koji.ClientSession | None = None

    def _get(self) -> koji.ClientSession:
        if self._session is None:
            self._session = self.session_factory()
        return self._session

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            with contextlib.suppress(Exception):
                session.logout()
            with contextlib.suppress(Exception):
                session.rsession.close()

    def submit(
        self, order: Mapping[str, Any], kind: ArtifactKind, *, dry_run: bool = False
    ) -> Submission:
        try:
            method, args, kwargs = kind.koji_task(order["definition"], order)
        except Exception as exc:
            return Submission(FAILED, None, f"no koji task for {order.get('compose')}: {exc}")
        call = _call_text(method, args, kwargs)
        if dry_run:
            return Submission(WOULD_SUBMIT, None, f"would call {call}")
        try:
            session = self._get()
        except Exception as exc:  # a login that failed: nothing was asked for
            return Submission(TRANSIENT, None, f"cannot open a koji session: {exc}")
        try:
            task = int(session.callMethod(method, *args, **kwargs))
        except Exception as exc:
            if is_transient(exc) or isinstance(exc, koji.AuthError):
                self.close()  # a fresh session next time
                return Submission(TRANSIENT, None, f"{method}: koji did not take it: {exc}")
            return Submission(FAILED, None, f"{call} refused: {exc}")
        return Submission(SUBMITTED, f"koji-task:{task}", f"{call} -> task {task}")

    def status(self, ref: str) -> Submission:
        """What became of ``koji-task:<id>``: submitted (still running), finished,
        failed (with the task's fault), or transient (koji did not answer)."""
        task_id = int(ref.removeprefix("koji-task:"))
        states = koji.TASK_STATES
        try:
            session = self._get()
            info = session.getTaskInfo(task_id)
            if not info:
                return Submission(FAILED, ref, f"no koji task {task_id}", "FAILED")
            state = info["state"]
            if state == states["CLOSED"]:
                return Submission(FINISHED, ref, f"task {task_id} closed", "FINISHED")
            if state not in (states["FAILED"], states["CANCELED"]):
                return Submission(SUBMITTED, ref, f"task {task_id} running", "STARTED")
            try:
                why = str(session.getTaskResult(task_id))
            except koji.GenericError as exc:
                why = str(exc)
            return Submission(FAILED, ref, f"task {task_id} failed: {why}", "FAILED")
        except Exception as exc:
            if not (is_transient(exc) or isinstance(exc, koji.AuthError)):
                raise
            self.close()
            return Submission(TRANSIENT, ref, f"koji did not answer: {exc}")


# ---------------------------------------------------------------------- ODCS

_ODCS_STATES = {"done": (FINISHED, "FINISHED"), "failed": (FAILED, "FAILED"),
                "generating": (SUBMITTED, "STARTED"), "wait": (SUBMITTED, None)}  # fmt: skip


class OdcsBackend:
    """ODCS's REST API, version 1 (see the module docstring)."""

    name = "odcs"

    def __init__(self, url: str, token: str | None = None, timeout: float = 30.0) -> None:
        self.url, self.token, self.timeout = url.rstrip("/"), token, timeout

    @property
    def endpoint(self) -> str:
        return f"{self.url}/api/1/composes/"

    def submit(
        self, order: Mapping[str, Any], kind: ArtifactKind, *, dry_run: bool = False
    ) -> Submission:
        try:
            body = kind.odcs_request(order["definition"], order)
        except Exception as exc:
            return Submission(FAILED, None, f"no ODCS request for {order.get('compose')}: {exc}")
        if dry_run:
            text = json.dumps(body, sort_keys=True)
            return Submission(WOULD_SUBMIT, None, f"would POST {self.endpoint} {_tail(text, 300)}")
        return self._answer(*self._request("POST", self.endpoint, body))

    def status(self, ref: str) -> Submission:
        """What became of ``odcs:<id>`` (GET the compose)."""
        compose_id = ref.removeprefix("odcs:")
        return self._answer(*self._request("GET", f"{self.endpoint}{compose_id}", None))

    def _request(self, method: str, url: str, body: Any) -> tuple[int | None, Any, str]:
        """(HTTP status or None when nothing came back, JSON answer or None, error text)."""
        data = None if body is None else json.dumps(body).encode("utf-8")
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = int(response.status), response.read()
        except urllib.error.HTTPError as exc:
            status, raw = int(exc.code), exc.read() if exc.fp is not None else b""
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "reason", None) or exc
            return None, None, f"ODCS at {self.url} did not answer: {reason}"
        text = raw.decode("utf-8", "replace")
        try:
            return status, json.loads(text), text
        except ValueError:
            return status, None, text

    def _answer(self, status: int | None, payload: Any, text: str) -> Submission:
        if status is None:
            return Submission(TRANSIENT, None, text)
        if status >= 500 or status in (408, 429):
            return Submission(TRANSIENT, None, f"ODCS answered {status}: {_message(payload, text)}")
        if status >= 300:
            return Submission(FAILED, None, f"ODCS refused ({status}): {_message(payload, text)}")
        if not isinstance(payload, dict) or not isinstance(payload.get("id"), int):
            return Submission(FAILED, None, f"ODCS answered {status} without a compose id: "
                                             f"{_tail(text, 200)}")  # fmt: skip
        ref, state = f"odcs:{payload['id']}", str(payload.get("state_name") or "wait")
        outcome, known = _ODCS_STATES.get(state, (SUBMITTED, None))
        location = payload.get("result_repofile") or payload.get("result_repo") or None
        reason = f": {payload['state_reason']}" if payload.get("state_reason") else ""
        detail = f"ODCS compose {payload['id']} {state}{reason}"
        return Submission(outcome, ref, detail, known, location)


def _message(payload: Any, text: str) -> str:
    if isinstance(payload, dict):
        for key in ("message", "error"):
            if payload.get(key):
                return str(payload[key])
    return _tail(text, 300) or "(no message)"


# ---------------------------------------------------------------------- command


@dataclass(frozen=True)
class CommandResult:
    returncode: int
    stdout: str
    stderr: str
    timed_out: bool = False
    error: str | None = None  # the command could not be started (returncode 126/127)


def run_command(
    argv: Sequence[str], *, env: Mapping[str, str], stdin: str, timeout: float,
    cwd: str | Path | None = None,
) -> CommandResult:  # fmt: skip
    """Run ``argv`` with ``env`` added to this process's environment and ``stdin`` as
    its input. On timeout its whole process group is killed. A missing or unusable
    executable gives returncode 127/126 and ``error``; never raises for the command."""
    if not argv:
        return CommandResult(127, "", "no command configured", error="no command configured")
    try:
        proc = subprocess.Popen(
            list(argv), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env={**os.environ, **env}, cwd=cwd, text=True, errors="replace",
            start_new_session=True,
        )  # fmt: skip
    except OSError as exc:
        why = f"cannot run {argv[0]}: {exc.strerror or exc}"
        code = 127 if isinstance(exc, FileNotFoundError) else 126
        return CommandResult(code, "", why, error=why)
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGKILL)
        try:
            out, err = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:  # something outside its group holds the pipes
            proc.kill()
            out, err = "", ""
        return CommandResult(proc.wait(), out or "", err or "", timed_out=True)
    return CommandResult(proc.returncode, out, err)


def _last_json(stdout: str) -> tuple[dict[str, Any] | None, str | None]:
    """The last non-empty stdout line: as a JSON object, or as text."""
    lines = [line.strip() for line in stdout.splitlines() if line.strip()]
    if not lines:
        return None, None
    try:
        value = json.loads(lines[-1])
    except ValueError:
        return None, lines[-1][:300]
    return (value, None) if isinstance(value, dict) else (None, lines[-1][:300])


class CommandBackend:
    """Runs ``argv`` for each compose, with ``RELENGOTRON_COMPOSE``, ``_ARTIFACT``,
    ``_KIND``, ``_CHANGES`` (space-separated NVRs) and the kind's ``command_env`` in the
    environment and the order as JSON on stdin. Exit 0: submitted, or finished/failed
    when the last stdout line is ``{"ref", "status": FINISHED|FAILED|STARTED,
    "location"}``; exit 75: transient; another exit: failed; timeout: transient."""

    name = "command"

    def __init__(
        self, argv: Sequence[str], timeout: float = 600.0, cwd: str | Path | None = None
    ) -> None:
        self.argv, self.timeout, self.cwd = list(argv), timeout, cwd

    def environment(self, order: Mapping[str, Any], kind: ArtifactKind) -> dict[str, str]:
        env = dict(kind.command_env(order["definition"], order))
        env.update(
            RELENGOTRON_COMPOSE=str(order["compose"]),
            RELENGOTRON_ARTIFACT=str(order["artifact"]),
            RELENGOTRON_KIND=str(order.get("kind") or kind.name),
            RELENGOTRON_CHANGES=" ".join(
                str(c["nvr"]) for c in order.get("changes") or () if c.get("nvr")
            ),
        )
        return env

    def submit(
        self, order: Mapping[str, Any], kind: ArtifactKind, *, dry_run: bool = False
    ) -> Submission:
        command = shlex.join(self.argv) or "(no command)"
        try:
            env = self.environment(order, kind)
        except Exception as exc:
            return Submission(FAILED, None, f"no command environment for "
                                            f"{order.get('compose')}: {exc}")  # fmt: skip
        if dry_run:
            changes = env["RELENGOTRON_CHANGES"] or "none"
            what = f"would run {command} for {env['RELENGOTRON_COMPOSE']} (changes: {changes})"
            return Submission(WOULD_SUBMIT, None, what)
        stdin = json.dumps(order, sort_keys=True, default=str)
        r = run_command(self.argv, env=env, stdin=stdin, timeout=self.timeout, cwd=self.cwd)
        if r.error:
            return Submission(FAILED, None, r.error)
        if r.timed_out:
            return Submission(TRANSIENT, None, f"{command} timed out after {self.timeout:g}s")
        if r.returncode == EX_TEMPFAIL:
            why = _tail(r.stderr) or "try again later"
            return Submission(TRANSIENT, None, f"{command} exited {EX_TEMPFAIL}: {why}")
        if r.returncode != 0:
            why = _tail(r.stderr) or "(no stderr)"
            return Submission(FAILED, None, f"{command} exited {r.returncode}: {why}")
        obj, text = _last_json(r.stdout)
        if obj is None:
            return Submission(SUBMITTED, text, f"{command} exited 0")
        ref = None if obj.get("ref") is None else str(obj["ref"])
        location = None if obj.get("location") is None else str(obj["location"])
        status = obj.get("status")
        status = status.upper() if isinstance(status, str) else status
        if status is not None and status not in STATUSES:
            return Submission(FAILED, ref, f"{command} printed an unknown status {status!r} "
                                           f"(known: {', '.join(STATUSES)})")  # fmt: skip
        outcome = {"FINISHED": FINISHED, "FAILED": FAILED}.get(status or "", SUBMITTED)
        detail = f"{command} exited 0" + (f": {status.lower()}" if status else "")
        return Submission(outcome, ref, detail, status, location)


__all__ = [
    "EX_TEMPFAIL",
    "FAILED",
    "FINISHED",
    "SUBMITTED",
    "TRANSIENT",
    "WOULD_SUBMIT",
    "CommandBackend",
    "CommandResult",
    "ComposeBackend",
    "KojiTaskBackend",
    "OdcsBackend",
    "Submission",
    "run_command",
]
