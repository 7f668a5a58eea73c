"""The steps on our own configuration: the policies' product version (added at a
branch, retired at End Of Life) and the artifact definitions cloned for a new release.

Both edit files a release engineer keeps in git, line by line (comments and layout
stay), and check the result loads before keeping it; the edit is the whole step, so
a rerun finds the files as edited (``already``).
"""

from __future__ import annotations

import fnmatch
import os
import re
from pathlib import Path
from typing import Any

from relengotron.adapters.artifacts.definitions import DefinitionError, load_definitions
from relengotron.adapters.artifacts.registry import load_kinds
from relengotron.adapters.lifecycle.steps import (
    ALREADY,
    BRANCH,
    DONE,
    Outcome,
    Release,
    Step,
    StepError,
    StepPlugin,
)
from relengotron.adapters.rules.policy_loader import load_policy_set
from relengotron.policies.spec import PolicyError

_ITEM = re.compile(r"^(\s*-\s*)(['\"]?)([A-Za-z0-9_.*?-]+)\2\s*(#.*)?$")


def _policy_files(directory: Path) -> list[Path]:
    return sorted(p for p in directory.glob("*.y*ml") if p.suffix in (".yaml", ".yml"))


def _product_versions(text: str) -> list[tuple[int, str]]:
    """(line index, entry) of each ``product_versions`` block-list entry."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    inside = False
    for i, line in enumerate(lines):
        if re.match(r"^\s*product_versions\s*:\s*$", line):
            inside = True
            continue
        m = _ITEM.match(line)
        if inside and m:
            out.append((i, m.group(3)))
        elif inside and line.strip() and not line.strip().startswith("#"):
            inside = False
    return out


class PolicySteps(StepPlugin):
    name = "policies"
    order = 50

    def plan(self, release: Release) -> list[Step]:
        pv = release.product_version
        if release.operation == BRANCH:
            return [Step(f"policies.add:{pv}", self.name,
                         f"gate {pv}: add it next to fedora-{release.previous} in the policies "
                         "(nothing when a pattern covers it)",
                         {"product_version": pv,
                          "next_to": f"fedora-{release.previous}"})]  # fmt: skip
        return [Step(f"policies.retire:{pv}", self.name,
                     f"retire {pv}: remove it from the policies' product_versions",
                     {"product_version": pv})]  # fmt: skip

    def apply(self, step: Step, release: Release) -> Outcome:
        directory = Path(release.policies)
        pv = step.params["product_version"]
        files = {p: p.read_text() for p in _policy_files(directory)}
        edited: dict[Path, str] = {}
        for path, text in files.items():
            entries = _product_versions(text)
            lines = text.splitlines(keepends=True)
            if step.id.startswith("policies.add:"):
                if any(e == pv for _, e in entries):
                    continue
                for i, e in reversed(entries):
                    if e == step.params["next_to"]:
                        lines.insert(i + 1, lines[i].replace(e, pv, 1))
            else:
                for i, e in reversed(entries):
                    if e == pv:
                        del lines[i]
            if "".join(lines) != text:
                edited[path] = "".join(lines)
        if not edited:
            return Outcome(ALREADY, self._why_nothing(files, pv, step))
        for path, text in edited.items():
            _write_atomically(path, text)
        try:
            load_policy_set(directory)
        except (PolicyError, ValueError) as exc:
            for path in edited:
                _write_atomically(path, files[path])
            raise StepError(f"the edited policies do not load (left as they were): {exc}") from exc
        return Outcome(DONE, f"{pv} in {len(edited)} file(s)", {"files": [p.name for p in edited]})

    def _why_nothing(self, files: dict[Path, str], pv: str, step: Step) -> str:
        entries = {e for text in files.values() for _, e in _product_versions(text)}
        covering = sorted(e for e in entries if fnmatch.fnmatchcase(pv, e))
        if step.id.startswith("policies.add:"):
            if not covering:
                raise StepError(f"no policy names {step.params['next_to']} or covers {pv}: "
                                "add the product version to the policies by hand")  # fmt: skip
            return f"{pv} is covered by {', '.join(covering)}"
        if covering:
            return f"{pv} is named by no policy; patterns {', '.join(covering)} still cover it"
        return f"no policy names {pv}"


class ArtifactSteps(StepPlugin):
    name = "artifacts"
    order = 60

    def plan(self, release: Release) -> list[Step]:
        if release.operation != BRANCH:
            return []
        return [Step(f"artifacts.clone:{release.tag}", self.name,
                     f"clone the rawhide artifact definitions as {release.tag}-branched.yaml",
                     {"file": f"{release.tag}-branched.yaml"})]  # fmt: skip

    def apply(self, step: Step, release: Release) -> Outcome:
        directory = Path(release.artifacts)
        target = directory / step.params["file"]
        kinds = load_kinds()
        try:
            defs = [d for d in load_definitions(directory, kinds)
                    if d.data.get("release") == "rawhide"
                    and Path(d.source.rsplit(":", 1)[0]).name != target.name]  # fmt: skip
        except DefinitionError as exc:
            raise StepError(f"the artifact definitions do not load: {exc}") from exc
        text = self.cloned(defs, release)
        if target.exists():
            if target.read_text() == text:
                return Outcome(ALREADY, f"{target.name} is there")
            raise StepError(f"{target} exists with other content: not overwriting it")
        _write_atomically(target, text)
        try:
            load_definitions(directory, kinds)
        except DefinitionError as exc:
            target.unlink()
            raise StepError(f"the cloned definitions do not load (removed): {exc}") from exc
        return Outcome(DONE, f"{len(defs)} definition(s) in {target.name}")

    @staticmethod
    def cloned(defs: list[Any], release: Release) -> str:
        """The definitions for the release: "rawhide" in every string becomes the release
        (``/rawhide/`` in a path or ref ``/45/``, ``Rawhide`` ``45``, else ``f45``); a name
        without "rawhide" gets ``-f45``; references to cloned artifacts follow."""
        import yaml

        v, f = release.version, release.tag

        def swap(value: object) -> object:
            if isinstance(value, str):
                return (value.replace("/rawhide/", f"/{v}/").replace("Rawhide", v)
                        .replace("rawhide", f))  # fmt: skip
            if isinstance(value, list):
                return [swap(x) for x in value]
            if isinstance(value, dict):
                return {k: swap(x) for k, x in value.items()}
            return value

        names = {d.name: (str(swap(d.name)) if "rawhide" in d.name else f"{d.name}-{f}")
                 for d in defs}  # fmt: skip
        docs = []
        for d in defs:
            doc = {**d.data, "name": d.name}
            doc = {k: swap(x) for k, x in doc.items() if k not in ("repositories", "built_from")}
            doc["name"] = names[d.name]
            for key in ("repositories", "built_from"):
                if d.data.get(key):
                    doc[key] = [names.get(n) or str(swap(n)) for n in d.data[key]]
            docs.append(doc)
        head = f"# Cloned from the rawhide definitions by `relengotron release branch {v}`.\n"
        return head + yaml.safe_dump(docs, sort_keys=False)


def _write_atomically(path: Path, text: str) -> None:
    """``text`` as the whole of ``path``, or ``path`` as it was: written beside it under a
    name no loader reads (hidden, ``.tmp``), flushed to disk, then renamed over it. A
    kill -9 mid-write used to leave a truncated policy file that the resumed run could
    not read (tests/e2e/test_release_lifecycle.py, the kill at seeded points)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
