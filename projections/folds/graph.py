"""The artifact dependency graph: which artifacts a set of changed builds affects, and why.

One ``networkx.DiGraph`` holds two kinds of node: ``("pkg", name)`` for a source
package and ``("art", name)`` for an artifact. An edge package -> artifact says
the package is in the artifact's manifest (the edge carries nothing: the NVR in
the manifest is kept in ``manifests``); an edge artifact -> artifact says the
second is composed or built from the first (``relation``).

An artifact is *affected* by a change when its manifest would really change:

* a package in its manifest gets a new NVR (the same NVR changes nothing) and
  the build reaches it: one of the repositories it is composed from (directly
  or through its parents) takes the build, or it draws from no repository;
* it is a repository (``contains_tags``) and the build went into one of its tags
  (or, for a Bodhi push, it is one of the push's repositories);
* it is built from an affected artifact whose content it carries
  (``propagates``: an image from an OSTree, a layered container from its base).
  Being composed *from* a repository is not enough: the OSTree composed from
  rawhide changes only when a package of its own manifest does.

Answers come parents first, each with its reasons and the affected parents it
must wait for. The graph is pure data: it never reads the store or the clock.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

PKG, ART = "pkg", "art"


@dataclass(frozen=True)
class ArtifactNode:
    name: str
    kind: str
    parents: tuple[tuple[str, str], ...] = ()  # (parent artifact, "composed_from"|"built_from")
    tags: tuple[str, ...] = ()
    propagates: bool = True  # children built from it carry its content
    contains_tags: bool = False  # a repository: holds every build of its tags


@dataclass(frozen=True)
class BuildChange:
    nvr: str
    package: str
    tag: str | None = None  # where the build went (None: unknown)


@dataclass(frozen=True)
class Affected:
    artifact: str
    kind: str
    reasons: tuple[dict[str, Any], ...]
    waits_for: tuple[str, ...]  # affected parents, to be composed first
    changes: tuple[dict[str, Any], ...]  # the changed builds in its own manifest or tags

    def as_dict(self) -> dict[str, Any]:
        return {
            "artifact": self.artifact,
            "kind": self.kind,
            "reasons": list(self.reasons),
            "waits_for": list(self.waits_for),
            "changes": list(self.changes),
            "chain": explain(self.reasons),
        }


def explain(reasons: Iterable[Mapping[str, Any]]) -> list[str]:
    """Readable lines for structured reasons (for people; machines read the dicts)."""
    out = []
    for r in reasons:
        if r["type"] == "manifest":
            was = f" (has {r['was']})" if r.get("was") else ""
            out.append(
                f"{r['package']} {r['nvr']} is in the manifest of {r['artifact']}{was}"
                f" [{r['source']}]"
            )
        elif r["type"] == "repository":
            out.append(f"{r['nvr']} goes into {r['artifact']} ({r['via']})")
        else:
            out.append(f"{r['artifact']} is {r['relation'].replace('_', ' ')} {r['parent']}")
    return out


@dataclass
class ArtifactGraph:
    graph: nx.DiGraph = field(default_factory=nx.DiGraph)
    nodes: dict[str, ArtifactNode] = field(default_factory=dict)
    manifests: dict[str, dict[str, str | None]] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # artifact -> manifest source
    _rank: dict[str, int] | None = None
    _repos: dict[str, frozenset[str]] = field(default_factory=dict)  # artifact -> its repos

    # ---------------------------------------------------------------- changes

    def define(self, node: ArtifactNode) -> None:
        """Add or replace an artifact (its parents' edges follow the new definition).

        Raises ValueError when the new parents would make a cycle (nothing changes).
        """
        key = (ART, node.name)
        for parent, _ in node.parents:
            if parent == node.name or (
                key in self.graph
                and (ART, parent) in self.graph
                and nx.has_path(self.graph, key, (ART, parent))
            ):
                raise ValueError(f"artifact {node.name} cannot be built from {parent}: a cycle")
        if key in self.graph:
            for parent in [p for p in self.graph.predecessors(key) if p[0] == ART]:
                self.graph.remove_edge(parent, key)
        else:
            self.graph.add_node(key)
        for parent, relation in node.parents:
            self.graph.add_edge((ART, parent), key, relation=relation)
        # Children defined while it was unknown or removed get their edges back.
        for child in self.nodes.values():
            for parent, relation in child.parents:
                if parent == node.name:
                    self.graph.add_edge(key, (ART, child.name), relation=relation)
        self.nodes[node.name] = node
        self._rank = None
        self._repos.clear()

    def remove(self, name: str) -> None:
        if name not in self.nodes:
            return
        self.graph.remove_node((ART, name))
        self.nodes.pop(name, None)
        self.manifests.pop(name, None)
        self.sources.pop(name, None)
        self._rank = None
        self._repos.clear()

    def set_manifest(self, name: str, packages: Mapping[str, str | None], source: str) -> None:
        """Replace an artifact's manifest (source package -> NVR, or None if unknown)."""
        key = (ART, name)
        old = self.manifests.get(name, {})
        for package in old.keys() - packages.keys():
            self.graph.remove_edge((PKG, package), key)
        self.graph.add_edges_from(((PKG, p), key) for p in packages.keys() - old.keys())
        self.manifests[name] = dict(packages)
        self.sources[name] = source

    def update_manifest(self, name: str, nvrs: Mapping[str, str]) -> None:
        """A compose of the artifact carried these builds: its manifest now has them."""
        manifest = self.manifests.get(name)
        if manifest is None:
            return
        for package, nvr in nvrs.items():
            if package in manifest:
                manifest[package] = nvr

    # ---------------------------------------------------------------- queries

    def rank(self) -> dict[str, int]:
        """Every artifact's place in one topological order (parents first, then by name)."""
        if self._rank is None:
            arts = nx.DiGraph()
            arts.add_nodes_from(self.nodes)
            for node in self.nodes.values():
                arts.add_edges_from((p, node.name) for p, _ in node.parents if p in self.nodes)
            order = nx.lexicographical_topological_sort(arts)
            self._rank = {name: i for i, name in enumerate(order)}
        return self._rank

    def repositories_of(self, name: str) -> frozenset[str]:
        """The repository artifacts an artifact draws from, directly or through parents."""
        repos = self._repos.get(name)
        if repos is None:
            found: set[str] = set()
            for parent, _ in self.nodes[name].parents if name in self.nodes else ():
                node = self.nodes.get(parent)
                if node is not None and node.contains_tags:
                    found.add(parent)
                found |= self.repositories_of(parent)
            repos = self._repos[name] = frozenset(found)
        return repos

    def affected(
        self,
        changes: Iterable[BuildChange],
        *,
        repositories: Collection[str] | None = None,
    ) -> list[Affected]:
        """The artifacts the changes affect, parents first.

        ``repositories``: the repository artifacts the builds go into (a Bodhi
        push's); by default a repository takes a build that went into one of
        its tags, or any build whose tag is unknown.
        """
        changes = list(changes)
        reasons: dict[str, list[dict[str, Any]]] = {}
        own: dict[str, dict[str, dict[str, Any]]] = {}

        def hit(art: str, reason: dict[str, Any], change: BuildChange, was: str | None) -> None:
            reasons.setdefault(art, []).append(reason)
            own.setdefault(art, {})[change.nvr] = {
                "nvr": change.nvr,
                "package": change.package,
                "was": was,
            }

        repos = [n for n in self.nodes.values() if n.contains_tags]
        reached: dict[str, set[str]] = {}  # nvr -> repositories that take it
        for change in changes:
            for repo in repos:
                if repositories is not None:
                    if repo.name not in repositories:
                        continue
                    via = "the push's repository"
                elif change.tag is None:
                    via = "tag unknown: every repository"
                elif change.tag in repo.tags:
                    via = f"tagged into {change.tag}"
                else:
                    continue
                reached.setdefault(change.nvr, set()).add(repo.name)
                reason = {
                    "type": "repository",
                    "artifact": repo.name,
                    "nvr": change.nvr,
                    "package": change.package,
                    "via": via,
                }
                hit(repo.name, reason, change, None)
        for change in changes:
            key = (PKG, change.package)
            if key not in self.graph:
                continue
            into = reached.get(change.nvr, set())
            for _, art_key in self.graph.out_edges(key):
                art = art_key[1]
                if art not in self.nodes:
                    continue  # a manifest learned before its artifact was defined
                was = self.manifests[art].get(change.package)
                if was == change.nvr:
                    continue
                sources = self.repositories_of(art)
                if sources and sources.isdisjoint(into):
                    continue  # the build does not reach the repositories it is composed from
                found: dict[str, Any] = {
                    "type": "manifest",
                    "artifact": art,
                    "package": change.package,
                    "nvr": change.nvr,
                    "was": was,
                    "source": self.sources.get(art, "definition"),
                }
                hit(art, found, change, was)

        # Children that carry an affected parent's content, in topological order.
        rank = self.rank()
        pending = sorted(reasons, key=rank.__getitem__)
        affected = set(pending)
        i = 0
        while i < len(pending):
            parent = pending[i]
            i += 1
            if not self.nodes[parent].propagates:
                continue
            for _, child_key, data in self.graph.out_edges((ART, parent), data=True):
                child = child_key[1]
                reasons.setdefault(child, []).append(
                    {
                        "type": "parent",
                        "artifact": child,
                        "parent": parent,
                        "relation": data.get("relation", "built_from"),
                    }
                )
                if child not in affected:
                    affected.add(child)
                    pending.append(child)
        out = []
        for art in sorted(affected, key=rank.__getitem__):
            node = self.nodes[art]
            waits = tuple(p for p, _ in node.parents if p in affected)
            changed = tuple(own.get(art, {}).values())
            out.append(Affected(art, node.kind, tuple(reasons[art]), waits, changed))
        return out

    def containing(self, package: str) -> list[str]:
        """The artifacts whose manifest lists a package."""
        key = (PKG, package)
        if key not in self.graph:
            return []
        return sorted(a for _, (_, a) in self.graph.out_edges(key))

    def lineage(self, name: str) -> set[str]:
        """An artifact with its ancestors and descendants."""
        key = (ART, name)
        related = {name}
        if key not in self.graph:
            return set()
        for n in nx.ancestors(self.graph, key) | nx.descendants(self.graph, key):
            if n[0] == ART and n[1] in self.nodes:
                related.add(n[1])
        return related

    # ---------------------------------------------------------------- exports

    def as_json(self, artifact: str | None = None) -> dict[str, Any]:
        names = self.lineage(artifact) if artifact else set(self.nodes)
        rank = self.rank()
        nodes = []
        for name in sorted(names, key=rank.__getitem__):
            node = self.nodes[name]
            entry: dict[str, Any] = {
                "name": name,
                "kind": node.kind,
                "manifest_source": self.sources.get(name),
                "packages": len(self.manifests.get(name, {})),
            }
            if node.contains_tags:
                entry["tags"] = list(node.tags)
            if artifact == name:
                entry["manifest"] = dict(sorted(self.manifests.get(name, {}).items()))
            nodes.append(entry)
        edges = [
            {"from": p, "to": n.name, "relation": rel}
            for n in self.nodes.values()
            if n.name in names
            for p, rel in n.parents
            if p in names
        ]
        edges.sort(key=lambda e: (rank.get(e["from"], -1), rank[e["to"]]))
        return {"artifacts": nodes, "edges": edges}

    def to_dot(self, artifact: str | None = None) -> str:
        data = self.as_json(artifact)
        lines = [
            "digraph artifacts {",
            "  rankdir=LR;",
            '  node [shape=box, style="rounded,filled", fillcolor="#eef3fb", fontname="sans"];',
        ]
        for n in data["artifacts"]:
            what = (
                f"tags: {', '.join(n['tags'])}"
                if n.get("tags")
                else (f"{n['packages']} packages ({n['manifest_source'] or 'no manifest'})")
            )
            label = f"{n['name']}\\n{n['kind']} · {what}"
            style = ', penwidth=2, fillcolor="#fde9c9"' if n["name"] == artifact else ""
            lines.append(f'  "{n["name"]}" [label="{label}"{style}];')
        for e in data["edges"]:
            lines.append(
                f'  "{e["from"]}" -> "{e["to"]}" [label="{e["relation"].replace("_", " ")}"];'
            )
        lines.append("}")
        return "\n".join(lines) + "\n"


def encode_graph(g: ArtifactGraph) -> dict[str, Any]:
    """The graph as a document of a stored view: its definitions, manifests and the
    networkx graph's nodes and edges in their order (the order answers are built in)."""
    return {
        "nodes": [
            {
                "name": n.name,
                "kind": n.kind,
                "parents": [list(p) for p in n.parents],
                "tags": list(n.tags),
                "propagates": n.propagates,
                "contains_tags": n.contains_tags,
            }
            for n in g.nodes.values()
        ],
        "manifests": g.manifests,
        "sources": g.sources,
        "graph_nodes": [list(n) for n in g.graph.nodes],
        "edges": [[list(u), list(v), data] for u, v, data in g.graph.edges(data=True)],
    }


def decode_graph(doc: dict[str, Any]) -> ArtifactGraph:
    """The graph of ``encode_graph`` again, nodes and edges in the same order."""
    graph = nx.DiGraph()
    graph.add_nodes_from(tuple(n) for n in doc["graph_nodes"])
    graph.add_edges_from((tuple(u), tuple(v), data) for u, v, data in doc["edges"])
    nodes = {
        n["name"]: ArtifactNode(
            n["name"],
            n["kind"],
            tuple((p, r) for p, r in n["parents"]),
            tuple(n["tags"]),
            n["propagates"],
            n["contains_tags"],
        )
        for n in doc["nodes"]
    }
    return ArtifactGraph(
        graph=graph, nodes=nodes, manifests=doc["manifests"], sources=doc["sources"]
    )
