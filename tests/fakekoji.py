"""A fake koji hub on 127.0.0.1 for ``koji.ClientSession``: the hub's XML-RPC protocol
(``__starstar`` keywords, ``multiCall`` one-element lists or fault dicts, koji's fault codes);
builds, tags, ``tag_listing`` history and tasks in memory; ``tagBuild``/``moveBuild`` create
a task that tags (at once or after some polls). Anonymous writes are allowed."""

from __future__ import annotations

import http.server
import threading
import time
import traceback
import xmlrpc.client
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

import pytest

from tests.fakekoji_admin import KojiAdminMixin

GENERIC, TAG_ERROR, PARAMETER_ERROR = 1000, 1003, 1019  # koji.GenericError, TagError, ...
FREE, OPEN, CLOSED, CANCELED, ASSIGNED, FAILED = range(6)  # koji.TASK_STATES
COMPLETE = 1  # koji.BUILD_STATES["COMPLETE"]
Fault = xmlrpc.client.Fault
_HIDDEN = ("fault", "nvr", "tag", "fromtag", "polls_left", "args", "kwargs")  # the hub keeps these


def _decode(params: Iterable[Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """koji's ``decode_args``: a trailing dict with ``__starstar`` holds the keywords."""
    args = tuple(params)
    if args and isinstance(args[-1], dict) and args[-1].get("__starstar"):
        return args[:-1], {k: v for k, v in args[-1].items() if k != "__starstar"}
    return args, {}


class FakeKojiHub(KojiAdminMixin):
    """In-memory hub state, its XML-RPC methods (``_api_*``) and thread-safe test controls."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._cond = threading.Condition(self._lock)
        self._builds: dict[str, dict[str, Any]] = {}
        self._rpms: dict[str, list[dict[str, Any]]] = {}  # nvr -> listRPMs rows
        self._tags: dict[str, int] = {}
        self._tagged: dict[str, set[str]] = {}
        self._history: list[dict[str, Any]] = []
        self._tasks: dict[int, dict[str, Any]] = {}
        self._event = 1000
        self.calls: list[tuple[str, tuple[Any, ...]]] = []  # multicall members too
        self._handled: Counter[str] = Counter()
        self._faults: dict[str, list[tuple[int, str]]] = {}
        self._http_errors: list[int] = []
        self._delays: dict[str, float] = {}
        self._gates: dict[str, threading.Event] = {}
        self._task_faults: dict[str, tuple[int, str]] = {}
        self._open_polls = 0
        self._task_methods: set[str] = set()  # compose task methods a test accepts
        self.moves = 0  # builds actually tagged by tasks
        self.errors: list[str] = []  # bugs of the fake itself (the fixture fails on them)
        self._server: http.server.ThreadingHTTPServer | None = None

    def start(self) -> FakeKojiHub:
        handler = type("Handler", (_Handler,), {"hub": self})
        self._server = server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        server.block_on_close = False  # and a 0.05 s shutdown poll, for a quick stop:
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def stop(self) -> None:
        for gate in list(self._gates.values()):
            gate.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "hub not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}/kojihub"

    def add_tag(self, name: str) -> int:
        with self._lock:
            self._tagged.setdefault(name, set())
            return self._tags.setdefault(name, 100 + len(self._tags))

    def add_build(
        self,
        nvr: str,
        owner: str = "someone",
        tags: Iterable[str] = (),
        rpms: Iterable[tuple[str, str]] | None = None,
    ) -> dict:
        """A complete build; ``rpms``: its (name, arch) pairs (default: the source rpm
        and one x86_64 rpm of the package's name)."""
        name, version, release = nvr.rsplit("-", 2)
        with self._lock:
            build_id = 5000 + len(self._builds)
            self._builds[nvr] = {
                "id": build_id, "build_id": build_id, "name": name, "package_name": name,
                "package_id": 300 + len(self._builds), "version": version, "release": release,
                "epoch": None, "nvr": nvr, "owner_name": owner, "owner_id": 7, "state": COMPLETE,
                "task_id": 90000 + build_id, "volume_name": "DEFAULT", "draft": False,
                "creation_ts": time.time(), "completion_ts": time.time(), "extra": None,
            }  # fmt: skip
            pairs = list(rpms) if rpms is not None else [(name, "src"), (name, "x86_64")]
            self._rpms[nvr] = [
                {"id": 700000 + 100 * len(self._builds) + i, "build_id": build_id,
                 "name": n, "version": version, "release": release, "epoch": None, "arch": a,
                 "nvr": f"{n}-{version}-{release}", "buildroot_id": 4000 + build_id,
                 "buildtime": 1_700_000_000, "external_repo_id": 0,
                 "external_repo_name": "INTERNAL", "metadata_only": False, "extra": None,
                 "payloadhash": f"{i:032x}", "size": 1000 + i}
                for i, (n, a) in enumerate(pairs)
            ]  # fmt: skip
            for tag in tags:
                self.tag(nvr, tag, user=owner)
            return dict(self._builds[nvr])

    def rpms_of(self, nvr: str) -> list[dict[str, Any]]:
        """The build's rpms, as ``listRPMs`` answers."""
        with self._lock:
            return [dict(r) for r in self._rpms.get(nvr, [])]

    def tag(self, nvr: str, tag: str, user: str = "someone") -> None:
        """Tag a build directly (as someone else would), with history; creates the tag."""
        with self._lock:
            self.add_tag(tag)
            self._tagged[tag].add(nvr)
            self._event += 1
            b = self._builds[nvr]
            self._history.append({
                "tag_id": self._tags[tag], "tag_name": tag, "tag.name": tag, "build_id": b["id"],
                "nvr": nvr, "name": b["name"], "version": b["version"], "release": b["release"],
                "build.state": b["state"], "create_event": self._event, "create_ts": time.time(),
                "creator_name": user, "revoke_event": None, "revoke_ts": None,
                "revoker_name": None, "active": True,
            })  # fmt: skip

    def untag(self, nvr: str, tag: str, user: str = "someone") -> None:
        with self._lock:
            self._tagged[tag].discard(nvr)
            self._event += 1
            for row in self._history:
                if row["nvr"] == nvr and row["tag_name"] == tag and row["active"]:
                    row.update(revoke_event=self._event, revoke_ts=time.time(), active=None)
                    row["revoker_name"] = user

    def tags_of(self, nvr: str) -> list[str]:
        with self._lock:
            return sorted(t for t, nvrs in self._tagged.items() if nvr in nvrs)

    def tagged(self, tag: str) -> list[str]:
        with self._lock:
            return sorted(self._tagged.get(tag, ()))

    def history(self, nvr: str) -> list[dict[str, Any]]:  # tag_listing rows, as tagHistory
        with self._lock:
            return self._api_tagHistory(build=nvr)

    def count(self, method: str) -> int:
        with self._lock:
            return sum(1 for m, _ in self.calls if m == method)

    def fail_next(
        self, method: str, times: int = 1, fault_code: int = GENERIC, message: str = "injected"
    ) -> None:
        """The next ``times`` calls of ``method`` fault (``multiCall``: the whole call)."""
        with self._lock:
            self._faults.setdefault(method, []).extend([(fault_code, message)] * times)

    def http_error_next(self, times: int = 1, status: int = 503) -> None:
        """The next ``times`` HTTP requests get ``status`` without being executed."""
        with self._lock:
            self._http_errors.extend([status] * times)

    def delay(self, method: str, seconds: float) -> None:
        """Requests calling ``method`` sleep ``seconds`` before they execute (0: no more)."""
        with self._lock:
            self._delays[method] = seconds

    def block(self, method: str) -> threading.Event:
        """Requests calling ``method`` execute, then are answered only once the gate is set."""
        with self._lock:
            return self._gates.setdefault(method, threading.Event())

    def wait_called(self, method: str, timeout: float = 5.0, times: int = 1) -> bool:
        """Wait until ``method`` has been executed ``times`` times (answered or not)."""
        with self._cond:
            return self._cond.wait_for(lambda: self._handled[method] >= times, timeout)

    def fail_task_for(self, nvr: str, message: str, fault_code: int = GENERIC) -> None:
        """The next tagging task for ``nvr`` ends FAILED with this fault."""
        with self._lock:
            self._task_faults[nvr] = (fault_code, message)

    def tasks_open_for_polls(self, n: int) -> None:
        """New tasks stay OPEN for ``n`` ``getTaskInfo`` polls, then run (0: run at once)."""
        with self._lock:
            self._open_polls = n

    def handle(self, method: str, params: tuple[Any, ...]) -> str:
        """One XML-RPC request: delay, execute, record, hold at gates; the response body."""
        names = [method]
        if method == "multiCall" and params and isinstance(params[0], list):
            names += [c.get("methodName", "") for c in params[0] if isinstance(c, dict)]
        time.sleep(max(self._delays.get(n, 0.0) for n in names))  # (a dict read: GIL-safe)
        try:
            result = (self._dispatch(method, params),)
            body = xmlrpc.client.dumps(result, methodresponse=True, allow_none=True)
        except Fault as fault:
            body = xmlrpc.client.dumps(fault, allow_none=True)
        with self._cond:
            self._handled.update(names)
            self._cond.notify_all()
            gates = [self._gates[n] for n in set(names) if n in self._gates]
        for gate in gates:
            gate.wait()
        return body

    def _dispatch(self, method: str, params: tuple[Any, ...]) -> Any:
        args, kwargs = _decode(params)
        if method != "multiCall":
            return self._call(method, args, kwargs)
        calls = args[0] if args else []
        with self._lock:
            self.calls.append(("multiCall", ([c.get("methodName") for c in calls],)))
            if self._faults.get("multiCall"):
                raise Fault(*self._faults["multiCall"].pop(0))
        results: list[Any] = []
        for call in calls:
            try:
                results.append([self._call(call["methodName"], *_decode(call["params"]))])
            except Fault as f:
                results.append({"faultCode": f.faultCode, "faultString": f.faultString})
        return results

    def _call(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        with self._lock:
            self.calls.append((method, args + ((kwargs,) if kwargs else ())))
            if self._faults.get(method):
                raise Fault(*self._faults[method].pop(0))
            handler = getattr(self, "_api_" + method, None)
            if handler is None and method in self._task_methods:
                return self._new_task(method, args, kwargs)
            if handler is None:
                raise Fault(GENERIC, f"Invalid method: {method}")
            try:
                return handler(*args, **kwargs)
            except TypeError as exc:
                raise Fault(PARAMETER_ERROR, f"{method}: {exc}") from exc

    def _build(self, info: Any, strict: bool = True) -> dict[str, Any] | None:
        found = next((b for b in self._builds.values() if info in (b["id"], b["nvr"])), None)
        if found is None and strict:
            raise Fault(GENERIC, f"No such build: {info!r}")
        return found

    def _tag_name(self, info: Any) -> str:
        for name, tag_id in self._tags.items():
            if info in (name, tag_id):
                return name
        raise Fault(GENERIC, f"No such tagInfo: {info!r}")

    # ------------------------------------------------------------ hub API (XML-RPC)

    def _api_getAPIVersion(self) -> int:
        return 1

    def _api_getLoggedInUser(self) -> None:
        return None  # anonymous sessions only

    def _api_getBuild(self, buildInfo: Any, strict: bool = False) -> dict[str, Any] | None:
        build = self._build(buildInfo, strict)
        return dict(build) if build else None

    def _api_listRPMs(
        self, buildID: Any = None, buildrootID: Any = None, imageID: Any = None,
        componentBuildrootID: Any = None, hostID: Any = None, arches: Any = None,
        queryOpts: Any = None, draft: Any = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        if buildID is None:
            raise Fault(PARAMETER_ERROR, "listRPMs: only buildID queries are faked")
        build = self._build(buildID)
        assert build is not None
        rows = self._rpms.get(build["nvr"], [])
        if arches is not None:
            wanted = [arches] if isinstance(arches, str) else list(arches)
            rows = [r for r in rows if r["arch"] in wanted]
        return [dict(r) for r in rows]

    def _api_listTags(self, build: Any = None, **_: Any) -> list[dict[str, Any]]:
        nvr = None if build is None else self._build(build)["nvr"]  # type: ignore[index]
        return [{"id": i, "name": t, "arches": None, "locked": False, "perm": None}
                for t, i in self._tags.items() if nvr in (None, *self._tagged[t])]  # fmt: skip

    def _api_listTagged(
        self, tag: Any, event: int | None = None, inherit: bool = False, prefix: str = "",
        latest: bool = False, package: str | None = None, owner: str | None = None, **_: Any,
    ) -> list[dict[str, Any]]:  # fmt: skip
        name, out, seen = self._tag_name(tag), [], set()
        for row in sorted(self._history, key=lambda r: -r["create_event"]):  # latest first
            b, gone = self._builds[row["nvr"]], row["revoke_event"]
            live = row["active"] if event is None else row["create_event"] <= event < (gone or 1e18)
            if (row["tag_name"] == name and live and b["name"].startswith(prefix or "")
                    and package in (None, b["name"]) and owner in (None, b["owner_name"])
                    and not (latest and b["name"] in seen)):  # fmt: skip
                seen.add(b["name"])
                out.append({**b, "tag_name": name, "tag_id": self._tags[name]})
        return out

    def _api_tagBuild(self, tag: Any, build: Any, force: bool = False, fromtag: Any = None) -> int:
        info = self._build(build)
        assert info is not None
        name = self._tag_name(tag)
        from_name = None if fromtag is None else self._tag_name(fromtag)
        if info["state"] != COMPLETE:
            raise Fault(TAG_ERROR, f"build {info['nvr']} not complete: state {info['state']}")
        task_id = 20000 + len(self._tasks)
        from_id = self._tags[from_name] if from_name else None
        self._tasks[task_id] = task = {
            "id": task_id, "method": "tagBuild", "state": OPEN, "owner": 1, "parent": None,
            "request": [self._tags[name], info["id"], force, from_id], "label": None,
            "priority": 10, "arch": "noarch", "create_ts": time.time(), "completion_ts": None,
            "result": None, "fault": None, "nvr": info["nvr"], "tag": name,
            "fromtag": from_name, "polls_left": self._open_polls,
        }  # fmt: skip
        if not self._open_polls:
            self._run_task(task)
        return task_id

    def _api_moveBuild(self, tag1: Any, tag2: Any, build: Any, force: bool = False) -> int:
        return self._api_tagBuild(tag2, build, force=force, fromtag=tag1)

    def _api_untagBuild(self, tag: Any, build: Any, strict: bool = True, **_: Any) -> None:
        nvr, name = self._build(build)["nvr"], self._tag_name(tag)  # type: ignore[index]
        if nvr in self._tagged[name]:
            self.untag(nvr, name, user="anonymous")
        elif strict:
            raise Fault(TAG_ERROR, f"build {nvr} not in tag {name}")

    def _run_task(self, task: dict[str, Any]) -> None:
        nvr, tag, fromtag = task["nvr"], task["tag"], task["fromtag"]
        fault = self._task_faults.pop(nvr, None)
        if fault is None and fromtag and nvr not in self._tagged[fromtag]:
            fault = (TAG_ERROR, f"build {nvr} not in tag {fromtag}")
        if fault is None and nvr in self._tagged[tag]:
            fault = (TAG_ERROR, f"build {nvr} already tagged ({tag})")
        task.update(
            state=CLOSED if fault is None else FAILED, fault=fault, completion_ts=time.time()
        )
        if fault is None:  # untag and tag in one transaction, as the hub's host.tagBuild
            if fromtag:
                self.untag(nvr, fromtag, user="anonymous")
            self.tag(nvr, tag, user="anonymous")
            self.moves += 1

    def _api_getTaskInfo(self, task_id: int, request: bool = False, **_: Any) -> Any:
        task = self._tasks.get(task_id)
        if task and task["state"] == OPEN:  # open for polls_left polls, then it runs
            task["polls_left"] -= 1
            if task["polls_left"] < 0:
                self._run_task(task)
        hidden = _HIDDEN if request else (*_HIDDEN, "request")
        return task and {k: v for k, v in task.items() if k not in hidden}

    # ------------------------------------------------ compose tasks (newRepo, image builds)

    def accept_tasks(self, *methods: str) -> None:
        """Hub methods (``osbuildImage``, ``kiwiBuild``, ``buildContainer``...) that create
        a FREE task with their arguments as its request, until ``finish_task``."""
        with self._lock:
            self._task_methods.update(methods)

    def finish_task(
        self, task_id: int, state: str = "CLOSED", result: Any = None, message: str = "failed"
    ) -> None:
        """End a compose task CLOSED (with ``result``) or FAILED (with ``message``)."""
        states = {"CLOSED": CLOSED, "FAILED": FAILED, "CANCELED": CANCELED}
        with self._lock:
            task = self._tasks[task_id]
            if result is None and task["method"] == "newRepo":
                result = [task_id - 10000, self._event]  # [repo id, event id]
            fault = (GENERIC, message) if state != "CLOSED" else None
            task.update(state=states[state], result=result, fault=fault,
                        completion_ts=time.time())  # fmt: skip

    def compose_tasks(self, method: str | None = None) -> list[dict[str, Any]]:
        """The compose tasks created (``method``: of that method), with ``args`` and
        ``kwargs`` as the hub got them."""
        with self._lock:
            return [dict(t) for t in self._tasks.values()
                    if "args" in t and method in (None, t["method"])]  # fmt: skip

    def _new_task(self, method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> int:
        task_id = 20000 + len(self._tasks)
        request = [*args, {"__starstar": True, **kwargs}] if kwargs else list(args)
        self._tasks[task_id] = {
            "id": task_id, "method": method, "state": FREE, "owner": 1, "parent": None,
            "request": request, "label": None, "priority": 20, "arch": "noarch",
            "create_ts": time.time(), "completion_ts": None, "result": None, "fault": None,
            "nvr": None, "tag": None, "fromtag": None, "polls_left": 0,
            "args": list(args), "kwargs": dict(kwargs),
        }  # fmt: skip
        return task_id

    def _api_newRepo(
        self, tag: Any, event: int | None = None, src: bool = False, debuginfo: bool = False,
        separate_src: bool = False,
    ) -> int:  # fmt: skip
        name = self._tag_name(tag)
        opts = {"event": event, "src": src, "debuginfo": debuginfo, "separate_src": separate_src}
        return self._new_task("newRepo", (name,), {k: v for k, v in opts.items() if v})

    def _api_getTaskResult(self, taskId: int, **_: Any) -> Any:
        task = self._tasks.get(taskId, {"state": None})
        if task["state"] not in (CLOSED, FAILED):
            raise Fault(GENERIC, f"Task {taskId} is not finished (or canceled, or unknown)")
        if task["fault"] is not None:
            raise Fault(*task["fault"])
        return task["result"]

    def _api_listTasks(self, opts: dict | None = None, **_: Any) -> list[dict[str, Any]]:
        states, method = (opts or {}).get("state"), (opts or {}).get("method")
        return [
            {k: v for k, v in t.items() if k not in _HIDDEN}
            for t in self._tasks.values()
            if (states is None or t["state"] in states) and method in (None, t["method"])
        ]

    def _api_tagHistory(self, *args: Any, **kw: Any) -> list[dict[str, Any]]:
        kw.update(zip(("build", "tag", "package", "active"), args, strict=False))
        build, tag, package, active = (kw.get(k) for k in ("build", "tag", "package", "active"))
        nvr = None if build is None else self._build(build)["nvr"]  # type: ignore[index]
        name = None if tag is None else self._tag_name(tag)
        return [
            dict(r) for r in self._history
            if nvr in (None, r["nvr"]) and name in (None, r["tag_name"])
            and package in (None, r["name"]) and active in (None, bool(r["active"]))
        ]  # fmt: skip

    def _api_queryHistory(self, tables: list[str] | None = None, **kw: Any) -> dict[str, list]:
        wanted = "tag_listing" in (tables or ["tag_listing"])  # the only table kept here
        return {"tag_listing": self._api_tagHistory(**kw)} if wanted else {}


class _Handler(http.server.BaseHTTPRequestHandler):
    hub: FakeKojiHub

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet

    def do_POST(self) -> None:
        hub = self.hub
        try:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with hub._lock:
                status = hub._http_errors.pop(0) if hub._http_errors else None
            status = status if self.path.split("?")[0].rstrip("/") == "/kojihub" else 404
            if status is not None:
                return self._reply(status, b"no (fake koji hub)")
            try:
                params, method = xmlrpc.client.loads(body, use_builtin_types=True)
            except Exception:
                return self._reply(400, b"bad XML-RPC request")
            try:
                answer = hub.handle(str(method), params)
            except Exception:
                hub.errors.append(traceback.format_exc())
                return self._reply(500, b"fake hub bug")
            self._reply(200, answer.encode("utf-8"), "text/xml")
        except OSError:
            pass  # the client went away: nothing to answer

    def _reply(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def fake_koji() -> Iterator[FakeKojiHub]:
    """A started fake hub (``hub.url``); stopped afterwards, failing on bugs of the fake."""
    hub = FakeKojiHub().start()
    try:
        yield hub
    finally:
        hub.stop()
    assert not hub.errors, "the fake koji hub crashed:\n" + "\n".join(hub.errors)
