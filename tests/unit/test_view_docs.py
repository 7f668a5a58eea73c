"""Views kept as documents (``projections.folds.view_docs``): loaded on demand, written back
when changed, the same values after a round trip through JSON."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from uuid import UUID, uuid4

import networkx as nx

from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.adapters.settings import DEFAULT_POLICIES
from relengotron.policies.snapshot import RemoteFileView, ResultView, WaiverView
from relengotron.policies.spec import policy_set_from_canonical
from relengotron.projections.folds.gating_state import ActivePolicies, BuildState, GroupCheck
from relengotron.projections.folds.graph import (
    ArtifactGraph,
    ArtifactNode,
    decode_graph,
    encode_graph,
)
from relengotron.projections.folds.records import BisectionState, GateState
from relengotron.projections.folds.remote_files import decode_files, encode_files
from relengotron.projections.folds.view_docs import Docs, ViewMeta


class MemoryDocStore:
    """A ``DocStore`` in memory that counts what it is asked (a fake of the port)."""

    def __init__(self) -> None:
        self.docs: dict[tuple[str, str, str], bytes] = {}
        self.metas: dict[str, ViewMeta] = {}
        self.loads = 0
        self.loaded_keys = 0

    def meta(self, view: str) -> ViewMeta | None:
        return self.metas.get(view)

    def load(self, view: str, kind: str, keys: Collection[str]) -> dict[str, bytes]:
        self.loads += 1
        self.loaded_keys += len(keys)
        return {k: self.docs[(view, kind, k)] for k in keys if (view, kind, k) in self.docs}

    def load_all(self, view: str, kind: str) -> dict[str, bytes]:
        self.loads += 1
        return {k: d for (v, kd, k), d in self.docs.items() if (v, kd) == (view, kind)}

    def write(
        self,
        view: str,
        meta: ViewMeta,
        docs: Mapping[tuple[str, str], bytes | None],
        *,
        reset: bool = False,
    ) -> None:
        if reset:
            self.docs = {k: d for k, d in self.docs.items() if k[0] != view}
        for (kind, key), doc in docs.items():
            if doc is None:
                self.docs.pop((view, kind, key), None)
            else:
                self.docs[(view, kind, key)] = doc
        self.metas[view] = meta


def flush(docs: Docs, store: MemoryDocStore, position: int) -> dict[tuple[str, str], bytes | None]:
    changes = docs.changes()
    store.write("v", ViewMeta("f", position, position), changes, reset=docs.reset)
    docs.written(changes)
    return changes


def test_without_a_store_a_map_is_a_plain_map_iterated_in_key_order() -> None:
    builds = Docs().map("builds", BuildState)
    builds["b-1-1"] = BuildState("b-1-1")
    builds["a-1-1"] = BuildState("a-1-1")
    assert list(builds) == ["a-1-1", "b-1-1"] and len(builds) == 2
    assert "a-1-1" in builds and "c-1-1" not in builds and builds.get("c-1-1") is None
    builds.setdefault("c-1-1", BuildState("c-1-1")).tags.add("f44")
    assert builds["c-1-1"].tags == {"f44"}
    del builds["a-1-1"]
    assert list(builds) == ["b-1-1", "c-1-1"]


def test_only_entries_changed_since_the_last_write_are_written() -> None:
    store = MemoryDocStore()
    docs = Docs(store, "v", "f")
    docs.complete = True  # a view folded from the start
    builds = docs.map("builds", BuildState)
    for n in range(3):
        builds[f"p{n}-1-1"] = BuildState(f"p{n}-1-1")
    assert len(flush(docs, store, 10)) == 3 and store.loads == 0
    assert flush(docs, store, 11) == {}  # nothing handed out since
    builds["p1-1-1"].tags.add("f44-updates")  # changed in place
    _ = builds["p2-1-1"].tags  # read, not changed
    assert list(flush(docs, store, 12)) == [("builds", "p1-1-1")]
    del builds["p0-1-1"]
    assert flush(docs, store, 13) == {("builds", "p0-1-1"): None}
    assert sorted(k for _, _, k in store.docs) == ["p1-1-1", "p2-1-1"]


def test_a_resumed_view_loads_each_entry_it_is_asked_for_once() -> None:
    store = MemoryDocStore()
    first = Docs(store, "v", "f")
    first.complete = True
    builds = first.map("builds", BuildState)
    for n in range(100):
        builds[f"p{n}-1-1"] = BuildState(f"p{n}-1-1", owner=f"o{n}")
    flush(first, store, 1)

    again = Docs(store, "v", "f")
    resumed = again.map("builds", BuildState)
    assert resumed["p7-1-1"].owner == "o7" and resumed["p7-1-1"].owner == "o7"
    assert "x-1-1" not in resumed and "x-1-1" not in resumed
    assert store.loads == 2  # one for p7, one for x: each asked once
    resumed.prefetch([f"p{n}-1-1" for n in range(10, 20)])
    assert store.loads == 3 and resumed["p15-1-1"].owner == "o15" and store.loads == 3
    assert len(resumed) == 100  # the whole kind, for whole-view questions


def test_a_cell_keeps_one_value_and_makes_a_missing_one() -> None:
    store = MemoryDocStore()
    docs = Docs(store, "v", "f")
    docs.complete = True
    roots = docs.cell("roots", list[str], list)
    roots.value.append("g1")  # a made value is kept: its change is written
    now = docs.cell("now", str | None)
    now.value = "2026-12-06T00:00:00+00:00"
    flush(docs, store, 5)
    again = Docs(store, "v", "f")
    assert again.cell("roots", list[str], list).value == ["g1"]
    assert again.cell("now", str | None).value == "2026-12-06T00:00:00+00:00"


def roundtrip(value: object, value_type: object) -> object:
    docs = Docs()
    m = docs.map("x", value_type)
    codec = m._codec
    return codec.loads(codec.dumps(value))


def test_the_gating_state_survives_json_exactly() -> None:
    result = ResultView(
        testcase="fedora-ci.koji-build.tier0.functional",
        outcome="PASSED",
        subject_type="koji_build",
        subject_identifier="a-1-1.fc44",
        event=f"{uuid4()}/3",
        position=17,
        result_id=1234,
        system_architecture="x86_64",
    )
    waiver = WaiverView(
        testcase="t",
        waived=True,
        subject_type="koji_build",
        subject_identifier="a-1-1.fc44",
        event="e/1",
        position=3,
        waiver_id=5,
        product_version="fedora-44",
        username="alice",
        comment="flaky",
    )
    build = BuildState(
        "a-1-1.fc44", owner="o", koji_id=9, tags={"f44", "f44-updates-testing-pending"}
    )
    build.results.append(result)
    build.waivers.append(waiver)
    assert roundtrip(build, BuildState) == build
    gate = GateState("a-1-1.fc44", verdict="hold", decision={"summary": "x", "n": [1, 2]}, seq=4)
    assert roundtrip(gate, GateState) == gate
    bisection = BisectionState("g", "tc", 3, None, "t", rounds={"g": 0, "g/a": 1})
    bisection.members = {"g": ("a", "b"), "g/a": ("a",)}
    bisection.split = {"g"}
    assert roundtrip(bisection, BisectionState) == bisection
    checks = [GroupCheck("g", "tc", "FAILED", ("a", "b"), (), 7, "e/1", "12", "t")]
    assert roundtrip(checks, list[GroupCheck]) == checks
    active = ActivePolicies("sha", ({"id": "p", "rules": []},), "m", "e/2", None)
    assert roundtrip(active, ActivePolicies | None) == active
    assert roundtrip(("src", None), tuple[str | None, str | None]) == ("src", None)
    assert roundtrip(("gate", "a-1-1"), tuple[str, str]) == ("gate", "a-1-1")


def test_recorded_gating_yaml_files_read_back_as_recorded() -> None:
    policies = load_policy_set(DEFAULT_POLICIES).policies[:2]
    # The file's policies, as the fetcher records them (canonical) and reads them back.
    policies = policy_set_from_canonical([p.canonical() for p in policies]).policies
    files = [
        RemoteFileView("https://src/a/gating.yaml", "found", "e/1", 3, "sha256:ab", policies),
        RemoteFileView("https://src/a/gating.yaml", "error", "e/2", 9, error="timeout"),
    ]
    assert decode_files(encode_files(files)) == files


def test_the_artifact_graph_keeps_its_edges_in_order() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("rawhide", "repository", tags=("f44",), contains_tags=True))
    g.define(ArtifactNode("ostree", "ostree", parents=(("rawhide", "composed_from"),)))
    g.define(ArtifactNode("iso", "image", parents=(("ostree", "built_from"),)))
    g.set_manifest("ostree", {"zsh": "zsh-5-1", "bash": "bash-5-1", "acl": None}, "definition")
    g.set_manifest("iso", {"bash": "bash-5-1"}, "compose")
    back = decode_graph(encode_graph(g))
    assert list(back.graph.nodes) == list(g.graph.nodes)
    assert list(back.graph.edges(data=True)) == list(g.graph.edges(data=True))
    for node in g.graph.nodes:
        assert list(back.graph.successors(node)) == list(g.graph.successors(node))
    assert back.nodes == g.nodes and back.manifests == g.manifests
    assert back.sources == g.sources and back.rank() == g.rank()
    assert nx.is_isomorphic(back.graph, g.graph)


def test_names_keyed_by_aggregate_id_come_back_as_ids() -> None:
    store = MemoryDocStore()
    docs = Docs(store, "v", "f")
    docs.complete = True
    names = docs.map("names", tuple[str, str], unkey=UUID)
    oid = uuid4()
    names[oid] = ("build", "a-1-1")
    flush(docs, store, 1)
    again = Docs(store, "v", "f").map("names", tuple[str, str], unkey=UUID)
    assert again[oid] == ("build", "a-1-1") and list(again) == [oid]
