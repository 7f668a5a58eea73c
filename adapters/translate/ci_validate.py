"""Fedora CI Messages spec bodies checked against their JSON Schema.

The spec says a message that does not validate is not processed. The schemas ship with
the package (``adapters/translate/ci_schemas/``; origin and licence in its README): one
line for 0.2.x and 1.x (``v1``), one for 0.1.x (``v0_1``, ``ci{}`` and the test at the
top level). A message is validated against the line of the version it claims; a version
that is missing or not semantic is validated against ``v1`` (whose ``version`` pattern
then names the problem), a version with no schema here (0.0.x, 2.x, ...) is invalid.

A schema is composed per (line, artifact, event, state) as the spec's topic schemas are
(``<artifact>.<event>.<state>``): the event schema plus the artifact's own schema, for
the artifact the topic names. ``$ref`` resolves among the shipped files only, inlined
when a validator is built (no network; a reference to anything else is an error of
ours, raised). Validators are compiled once per composed schema and kept; formats (uri,
email) are annotations, as JSON Schema has them by default.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import fastjsonschema
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

DRAFT7_URI = "http://json-schema.org/draft-07/schema#"
V1 = "v1"
V0_1 = "v0_1"
LINES = {V1: "0.2.x/1.x", V0_1: "0.1.x"}
MAX_ERRORS = 10

_SEMVER = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(?:[-+].*)?$")

# Topic artifact -> the artifact schema of the v1 line (others: ``artifact-other``).
_ARTIFACTS = {
    "koji-build": "rpm-build",
    "brew-build": "rpm-build",
    "koji-build-group": "rpm-build-group",
    "brew-build-group": "rpm-build-group",
    "fedora-update": "fedora-update",
    "productmd-compose": "productmd-compose",
    "pull-request": "pull-request",
    "dist-git-pr": "pull-request",
    "fedora-dist-git": "pull-request",
    "redhat-module": "module-build",
    "fedora-module": "module-build",
}


@dataclass(frozen=True)
class Validation:
    """``messages`` is empty when the body is valid; ``schema`` names what was applied."""

    schema: str
    messages: tuple[str, ...] = ()

    @property
    def valid(self) -> bool:
        return not self.messages

    @property
    def errors(self) -> tuple[str, ...]:
        """Each message with the schema it broke (a recorded message's problems)."""
        return tuple(f"schema {self.schema}: {m}" for m in self.messages)

    def summary(self) -> str:
        """One line for a person (a requirement's detail)."""
        return f"invalid CI message ({self.schema}): " + "; ".join(self.messages)


def line_of(version: Any) -> str | None:
    """The schema line for a claimed version; None when no schema here applies."""
    m = _SEMVER.match(version) if isinstance(version, str) else None
    if m is None:
        return V1  # not semver: v1's version pattern reports it, with the rest
    major, minor = int(m.group(1)), int(m.group(2))
    if major == 0 and minor == 1:
        return V0_1
    if (major == 0 and minor >= 2) or major == 1:
        return V1
    return None


def validate(body: Any, artifact: str, event: str, state: str) -> Validation:
    """Validate a CI spec body for topic ``<artifact>.<event>.<state>``."""
    version = body.get("version") if isinstance(body, Mapping) else None
    line = line_of(version)
    if line is None:
        name = f"{artifact}.{event}.{state}"
        return Validation(name, (f"version {version!r}: no schema for this spec version",))
    shape = _shape(line, event, state)
    kind = _ARTIFACTS.get(artifact, "other") if line == V1 else None
    name = f"{artifact}.{event}.{state} ({LINES[line]})"
    fast, validator = _validator(line, shape, kind)
    try:
        fast(body)
        return Validation(name)  # the common case: valid, decided by the generated code
    except fastjsonschema.JsonSchemaException as exc:
        first = str(exc)
    errors = sorted(validator.iter_errors(body), key=_where)
    if not errors:  # the two disagree: never call valid what one of them rejects
        return Validation(name, (f"{first} (fastjsonschema)",))
    texts = [_text(e) for e in errors[:MAX_ERRORS]]
    if len(errors) > MAX_ERRORS:
        texts.append(f"and {len(errors) - MAX_ERRORS} more schema errors")
    return Validation(name, tuple(texts))


def _shape(line: str, event: str, state: str) -> str:
    if event == "test":
        if line == V0_1 and state in ("queued", "running"):
            return "test.json"
        return f"test.{state}.json"
    if state == "error" and line == V1:
        return "other.error.json"
    return "other.json"


def _where(error: ValidationError) -> tuple[str, str]:
    return "/".join(str(p) for p in error.absolute_path), error.message


def _text(error: ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    message = error.message
    if error.validator == "pattern" and where == "version":  # not the regex, the meaning
        message = f"{error.instance!r} is not a semantic version (MAJOR.MINOR.PATCH)"
    if len(message) > 200:
        message = message[:197] + "..."
    return f"{where}: {message}" if where else message


@cache
def _files(line: str) -> dict[str, Any]:
    """The shipped schema files of a line, by file name."""
    root = resources.files("relengotron.adapters.translate").joinpath("ci_schemas", line)
    return {
        entry.name: json.loads(entry.read_text(encoding="utf-8"))
        for entry in root.iterdir()
        if entry.name.endswith(".json")
    }


def _inline(node: Any, files: Mapping[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """The schema with every ``$ref`` replaced by the file it names (the shipped schemas
    are not recursive). Resolving references at validation time is what made
    ``jsonschema`` slow here (about 1 ms a message); inlined, it is a plain walk."""
    if isinstance(node, list):
        return [_inline(n, files, seen) for n in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if ref is not None:
        if ref not in files or ref in seen:
            # Only the shipped files, never the network; no cycles in them.
            raise LookupError(f"CI schema reference {ref!r} cannot be resolved locally")
        target = {k: v for k, v in files[ref].items() if k != "$schema"}
        return _inline(target, files, (*seen, ref))
    return {k: _inline(v, files, seen) for k, v in node.items()}


Check = Callable[[Any], Any]


@cache
def _validator(line: str, shape: str, kind: str | None) -> tuple[Check, Draft7Validator]:
    """Compiled once per composed schema: ``fastjsonschema``'s generated code decides
    (about 15 times faster than ``jsonschema`` on these messages: 87,000 against 6,600
    koji-build messages a second), ``jsonschema`` lists every error of an invalid one.
    ``tests/unit/test_ci_schemas.py`` checks that the two agree."""
    parts: list[dict[str, Any]] = [{"$ref": shape}]
    if kind is not None:
        parts.append({"properties": {"artifact": {"$ref": f"artifact-{kind}.json"}}})
    schema = {"$schema": DRAFT7_URI, "allOf": _inline(parts, _files(line))}
    Draft7Validator.check_schema(schema)
    return fastjsonschema.compile(schema), Draft7Validator(schema)
