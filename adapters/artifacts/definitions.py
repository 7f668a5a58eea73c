"""Artifact definitions: ``config/artifacts/*.yaml`` -> :class:`Definition`.

Each ``*.yaml``/``*.yml`` file of the directory (sorted by name, hidden files skipped)
holds one artifact mapping or a list of them. Documents are composed into nodes, so
every problem names its file and line. Every problem of every file is collected, then
raised as one :class:`DefinitionError` (one line each): syntax errors, unknown fields,
wrong types, unknown kinds, duplicate names, references (``repositories``,
``built_from``) to undefined artifacts, cycles, and each kind's own ``validate``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import yaml

from relengotron.adapters.artifacts.kinds import BACKENDS, ArtifactKind

SUFFIXES = (".yaml", ".yml")
REQUIRED = ("name", "kind", "release", "arches")
LISTS = ("arches", "packages", "repositories", "built_from", "tags", "tests")
FIELDS = (*REQUIRED, "packages", "repositories", "built_from", "tags", "tests",
          "bodhi", "match", "compose")  # fmt: skip
BODHI_REQUESTS = ("testing", "stable")
MATCH_KEYS = ("ostree_ref", "compose_id", "image_name")
_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*\Z")
_WORD = re.compile(r"\S+\Z")
_NULL = "tag:yaml.org,2002:null"


class DefinitionError(Exception):
    """Problems of the artifact definitions, one a line, each with ``file:line``."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        n = len(self.errors)
        head = f"{n} problem{'s' if n != 1 else ''} in the artifact definitions:"
        super().__init__("\n".join([head, *self.errors]))


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str
    data: dict[str, Any] = field(hash=False)  # normalized: every field, lists as lists
    digest: str  # "sha256:<hex>" of the canonical JSON of data
    source: str  # "path/to/file.yaml:LINE"


def digest_of(data: Mapping[str, Any]) -> str:
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _type(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number (quote it)"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    return f"a {type(value).__name__} (quote it)"


@dataclass
class _Item:
    """One artifact mapping as read: values, the line of each field, problems."""

    path: str
    line: int
    index: int
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        name = self.values.get("name")
        return f"artifact {name}" if isinstance(name, str) and name else f"artifact #{self.index}"

    def error(self, key: str | None, message: str, line: int | None = None) -> None:
        line = line or self.lines.get(key or "", self.line)
        where = f"{key}: " if key else ""
        self.problems.append(f"{self.path}:{line}: {self.label}: {where}{message}")

    def kind_error(self, message: str) -> None:
        """A kind's message starts with the field it concerns (``compose: `key` ...``)."""
        key, _, rest = message.partition(":")
        if key not in self.lines or not rest:
            self.problems.append(f"{self.path}:{self.line}: {self.label}: {message}")
            return
        named = [f"{key}.{n}" for n in re.findall(r"`([^`]+)`", rest)]
        line = next((self.lines[n] for n in named if n in self.lines), self.lines[key])
        self.problems.append(f"{self.path}:{line}: {self.label}: {message}")


class _File:
    """Reads the artifact mappings of one file; problems go to ``errors``."""

    def __init__(self, path: str, errors: list[str]) -> None:
        self.path, self.errors = path, errors

    def items(self, text: str) -> list[_Item]:
        loader = yaml.SafeLoader(text)
        found: list[_Item] = []
        try:
            while loader.check_node():
                doc = loader.get_node()
                if doc is None or (isinstance(doc, yaml.ScalarNode) and doc.tag == _NULL):
                    continue  # an empty document
                nodes = doc.value if isinstance(doc, yaml.SequenceNode) else [doc]
                for node in nodes:
                    item = self.item(loader, node, len(found) + 1)
                    if item is not None:
                        found.append(item)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = "" if mark is None else f":{int(mark.line) + 1}"
            problem = ", ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
            self.errors.append(f"{self.path}{line}: YAML syntax error: {problem}")
        except yaml.YAMLError as exc:
            self.errors.append(f"{self.path}: YAML error: {exc}")
        finally:
            loader.dispose()
        return found

    def item(self, loader: yaml.SafeLoader, node: yaml.Node, index: int) -> _Item | None:
        if not isinstance(node, yaml.MappingNode):
            self.errors.append(f"{self.path}:{_line(node)}: an artifact must be a mapping "
                               "(name: ..., kind: ...)")  # fmt: skip
            return None
        item = _Item(self.path, _line(node), index)
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, str) or key_node.tag != "tag:yaml.org,2002:str":
                item.problems.append(f"{self.path}:{_line(key_node)}: field names must be "
                                     "strings")  # fmt: skip
                continue
            if key in item.lines:
                first = item.lines[key]
                item.error(key, f"duplicate field (first on line {first})", _line(key_node))
                continue
            item.lines[key] = _line(key_node)
            try:
                item.values[key] = loader.construct_object(value_node, deep=True)
            except yaml.MarkedYAMLError as exc:
                item.error(key, f"cannot read the value: {exc.problem}")
                continue
            if isinstance(value_node, yaml.MappingNode):
                for sub_key, _ in value_node.value:
                    if isinstance(sub_key, yaml.ScalarNode):
                        item.lines.setdefault(f"{key}.{sub_key.value}", _line(sub_key))
        return item


def _strings(item: _Item, key: str, value: Any, *, non_empty: bool = False) -> list[str]:
    if not isinstance(value, list):
        hint = f" (write `{key}: [{value}]`)" if isinstance(value, str) else ""
        item.error(key, f"must be a list of strings, got {_type(value)}{hint}")
        return []
    if non_empty and not value:
        item.error(key, "must not be an empty list")
    out: list[str] = []
    for v in value:
        if not isinstance(v, str) or not _WORD.match(v):
            item.error(key, f"items must be single words, got {v!r}")
        elif v in out:
            item.error(key, f"{v} is listed twice")
        else:
            out.append(v)
    return out


def _mapping(item: _Item, key: str, value: Any, keys: Sequence[str] | None) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        item.error(key, f"must be a mapping, got {_type(value)}")
        return {}
    out: dict[str, Any] = {}
    for k, v in value.items():
        if not isinstance(k, str):
            item.error(key, f"keys must be strings, got {k!r}")
        elif keys is not None and k not in keys:
            item.error(key, f"unknown key `{k}`; allowed: {', '.join(keys)}")
        else:
            out[k] = v
    return out


def _normalize(item: _Item, kinds: Mapping[str, ArtifactKind]) -> None:
    """Check the common fields; fill ``item.data`` (every field present)."""
    v = item.values
    for key in v:
        if key not in FIELDS:
            item.error(key, f"unknown field; allowed: {', '.join(FIELDS)}")
    for key in REQUIRED:
        if key not in v:
            item.error(None, f"missing required field `{key}`")
    data: dict[str, Any] = {}
    for key in ("name", "kind", "release"):
        value = v.get(key)
        if key in v and not (isinstance(value, str) and value.strip()):
            item.error(key, f"must be a non-empty string, got {_type(value)}")
        data[key] = value if isinstance(value, str) else ""
    if data["name"] and not _NAME.match(data["name"]):
        item.error("name", f"{data['name']!r} is not a valid name ([a-z0-9][a-z0-9._-]*)")
    kind = kinds.get(data["kind"])
    if data["kind"] and kind is None:
        item.error("kind", f"unknown kind {data['kind']!r}; known kinds: {', '.join(kinds)}")
    for key in LISTS:
        data[key] = _strings(item, key, v[key], non_empty=key == "arches") if key in v else []
    bodhi = v.get("bodhi")
    data["bodhi"] = None
    if bodhi is not None:
        bodhi = _mapping(item, "bodhi", bodhi, ("release", "request"))
        for k in ("release", "request"):
            if not isinstance(bodhi.get(k), str) or not bodhi[k]:
                item.error("bodhi", f"`{k}` must be given, as a string")
        if isinstance(bodhi.get("request"), str) and bodhi["request"] not in BODHI_REQUESTS:
            item.error("bodhi", f"`request` must be one of {', '.join(BODHI_REQUESTS)}")
        data["bodhi"] = bodhi
    match = _mapping(item, "match", v["match"], MATCH_KEYS) if "match" in v else {}
    for k, value in match.items():
        if not isinstance(value, str) or not value:
            item.error("match", f"`{k}` must be a non-empty string")
    data["match"] = match
    compose = _mapping(item, "compose", v["compose"], None) if "compose" in v else {}
    backend = compose.get("backend")  # None: the site's [compose.kinds], else the kind's
    if backend is not None and backend not in BACKENDS:
        item.error("compose", f"`backend` must be one of {', '.join(BACKENDS)}, got {backend!r}")
    data["compose"] = {**compose, "backend": backend}
    item.data = data
    if kind is not None and not item.problems:
        try:
            for message in kind.validate(data):
                item.kind_error(message)
        except Exception as exc:
            item.error(None, f"kind {kind.name} failed to validate it: {type(exc).__name__}: "
                             f"{exc}")  # fmt: skip


def _check_graph(items: list[_Item], errors: list[str], complete: bool) -> None:
    """Duplicate names, references to undefined artifacts (unless a file could not be
    read: ``complete`` is false), cycles."""
    by_name: dict[str, _Item] = {}
    for item in items:
        name = item.data.get("name")
        if not name:
            continue
        if name in by_name:
            first = by_name[name]
            item.error("name", f"duplicate name (first defined at {first.path}:{first.line})")
        else:
            by_name[name] = item
    graph: nx.DiGraph = nx.DiGraph()
    graph.add_nodes_from(by_name)
    for name, item in by_name.items():
        for key in ("repositories", "built_from"):
            for parent in item.data.get(key) or []:
                if parent in by_name:
                    graph.add_edge(name, parent)
                elif complete:
                    item.error(key, f"{parent} is not a defined artifact")
    for component in nx.strongly_connected_components(graph):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        cycle = [a for a, _ in nx.find_cycle(graph.subgraph(component), source=start)]
        path = " -> ".join([*cycle, cycle[0]])
        item = by_name[cycle[0]]
        following = cycle[1 % len(cycle)]
        key = "repositories" if following in item.data["repositories"] else "built_from"
        item.error(key, f"cycle in repositories/built_from: {path}")
    for item in items:
        errors.extend(item.problems)


def _by_place(paths: list[str]) -> Callable[[str], tuple[int, int]]:
    """Sort key of an error: its file (in load order), then its line."""

    def key(error: str) -> tuple[int, int]:
        for i, path in enumerate(paths):
            if error.startswith(path + ":"):
                line = re.match(r"(\d+):", error[len(path) + 1 :])
                return i, int(line.group(1)) if line else 0
        return -1, 0

    return key


def load_definitions(directory: Path, kinds: Mapping[str, ArtifactKind]) -> list[Definition]:
    """Every artifact of every ``*.yaml``/``*.yml`` file of ``directory``, files in name
    order. Raises :class:`DefinitionError` listing every problem."""
    path = Path(directory)
    if not path.is_dir():
        what = "does not exist" if not path.exists() else "is not a directory"
        raise DefinitionError([f"{path}: the artifact definition directory {what}"])
    files = sorted(
        p for p in path.iterdir()
        if p.suffix in SUFFIXES and not p.name.startswith(".") and p.is_file()
    )  # fmt: skip
    errors: list[str] = []
    items: list[_Item] = []
    for file in files:
        try:
            text = file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            errors.append(f"{file}: cannot read the file: {exc}")
            continue
        for item in _File(str(file), errors).items(text):
            _normalize(item, kinds)
            items.append(item)
    readable = len(errors)
    _check_graph(items, errors, complete=readable == 0)
    if errors:
        raise DefinitionError(sorted(errors, key=_by_place([str(f) for f in files])))
    return [
        Definition(
            name=item.data["name"],
            kind=item.data["kind"],
            data=item.data,
            digest=digest_of(item.data),
            source=f"{item.path}:{item.line}",
        )
        for item in items
    ]


__all__ = ["Definition", "DefinitionError", "digest_of", "load_definitions"]
