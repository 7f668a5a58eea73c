"""Artifact definitions (config/artifacts), the kinds and their plugin registry."""

from __future__ import annotations

import importlib.metadata
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.artifacts import (
    ArtifactKind,
    DefinitionError,
    KindLoadError,
    kind_traits,
    load_definitions,
    load_kinds,
)
from relengotron.adapters.artifacts.definitions import FIELDS
from relengotron.adapters.artifacts.kinds import ContainerKind, OstreeKind, Qcow2Kind, RepoKind
from tests.conftest import REPO

SHIPPED = REPO / "config" / "artifacts"
KINDS = {"repo": RepoKind(), "ostree": OstreeKind(), "qcow2": Qcow2Kind(),
         "container": ContainerKind()}  # fmt: skip
DEMO_PACKAGES = ("bash", "glibc", "python3.14", "systemd", "openssl", "vim",
                 "gcc", "rpm", "dnf5", "python-requests")  # fmt: skip

REPO_YAML = """\
name: rawhide-repo
kind: repo
release: rawhide
arches: [x86_64]
tags: [rawhide]
"""


def write(directory: Path, name: str, text: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(textwrap.dedent(text))
    return path


def errors_of(directory: Path, kinds: Any = None) -> list[str]:
    with pytest.raises(DefinitionError) as info:
        load_definitions(directory, KINDS if kinds is None else kinds)
    assert str(info.value).splitlines()[1:] == info.value.errors
    return info.value.errors


# ---------------------------------------------------------------------- shipped set


def test_the_shipped_definitions_load() -> None:
    defs = {d.name: d for d in load_definitions(SHIPPED, load_kinds())}
    parents = {n: (d.kind, d.data["repositories"], d.data["built_from"]) for n, d in defs.items()}
    assert parents == {
        "rawhide-repo": ("repo", [], []),
        "f40-updates-testing": ("repo", [], []),
        "fedora-iot-ostree": ("ostree", ["rawhide-repo"], []),
        "fedora-iot-qcow2": ("qcow2", [], ["fedora-iot-ostree"]),
        "fedora-cloud-base-qcow2": ("qcow2", ["rawhide-repo"], []),
        "fedora-container-base": ("container", ["rawhide-repo"], []),
        "fedora-toolbox": ("container", ["rawhide-repo"], ["fedora-container-base"]),
        "fedora-httpd-container": ("container", ["rawhide-repo"], ["fedora-container-base"]),
        "f40-cloud-base-qcow2": ("qcow2", ["f40-updates-testing"], []),
    }
    assert defs["f40-updates-testing"].data["bodhi"] == {"release": "F40", "request": "testing"}
    assert defs["rawhide-repo"].data["tags"] == ["rawhide"]
    listed = {p for d in defs.values() for p in d.data["packages"]}
    assert {"bash", "glibc", "systemd", "openssl", "rpm", "dnf5"} <= listed
    assert {"vim", "gcc", "python-requests", "python3.14"}.isdisjoint(listed)
    for d in defs.values():
        assert d.digest.startswith("sha256:") and len(d.digest) == 71
        path, line = d.source.rsplit(":", 1)
        assert Path(path).parent == SHIPPED and int(line) >= 1
        assert tuple(d.data) == FIELDS
        assert d.data["compose"]["backend"] is None  # the site chooses ([compose.kinds])
        assert d.data["tests"], f"{d.name} has no tests"


def test_shipped_definitions_work_with_every_backend() -> None:
    kinds = load_kinds()
    for d in load_definitions(SHIPPED, kinds):
        kind = kinds[d.kind]
        for backend in ("koji", "odcs", "command"):
            pinned = {**d.data, "compose": {**d.data["compose"], "backend": backend}}
            assert kind.validate(pinned) == [], (d.name, backend)
        order = {"compose": f"{d.name}#1", "artifact": d.name, "kind": d.kind,
                 "backend": "koji", "definition": d.data, "changes": [], "push": None}  # fmt: skip
        method, args, kwargs = kind.koji_task(d.data, order)
        assert method and isinstance(args, list) and isinstance(kwargs, dict)
        assert kind.odcs_request(d.data, order)["label"] == f"{d.name}#1"
        assert kind.command_env(d.data, order)["RELENGOTRON_RELEASE"] == d.data["release"]


# ---------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        (REPO_YAML + "colour: blue\n", 6, "artifact rawhide-repo: colour: unknown field"),
        (
            REPO_YAML.replace("release: rawhide", "release: 40"),
            3,
            "release: must be a non-empty string, got a number (quote it)",
        ),
        (
            REPO_YAML.replace("arches: [x86_64]", "arches: x86_64"),
            4,
            "arches: must be a list of strings, got a string (write `arches: [x86_64]`)",
        ),
        (REPO_YAML.replace("arches: [x86_64]", "arches: []"), 4, "arches: must not be an empty"),
        (REPO_YAML.replace("kind: repo", "kind: iso"), 2, "kind: unknown kind 'iso'"),
        (
            REPO_YAML.replace("name: rawhide-repo", "name: Rawhide Repo"),
            1,
            "name: 'Rawhide Repo' is not a valid name",
        ),
        (REPO_YAML.replace("release: rawhide\n", ""), 1, "missing required field `release`"),
        (REPO_YAML.replace("tags: [rawhide]", "tags: []"), 5, "tags: a repo needs the koji tags"),
        (REPO_YAML + "tests: [a, a]\n", 6, "tests: a is listed twice"),
        (
            REPO_YAML + "bodhi: {release: F40, request: obsolete}\n",
            6,
            "bodhi: `request` must be one of testing, stable",
        ),
        (REPO_YAML + "match: {ref: x}\n", 6, "match: unknown key `ref`"),
        (REPO_YAML + "compose:\n  backend: pungi\n", 6, "compose: `backend` must be one of"),
        (
            REPO_YAML + "compose:\n  backend: koji\n  method: x\n",
            8,
            "compose: unknown option `method` for kind repo",
        ),
        (REPO_YAML + "tags: [f40]\n", 6, "tags: duplicate field (first on line 5)"),
        (REPO_YAML + "repositories: [nowhere]\n", 6, "repositories: nowhere is not a defined"),
        (REPO_YAML + "  bad: indent\n", 6, "YAML syntax error"),
        ("- just a string\n", 1, "an artifact must be a mapping"),
    ],
)
def test_each_error_names_file_and_line(tmp_path: Path, text: str, line: int, message: str) -> None:
    path = write(tmp_path, "repo.yaml", text)
    [error] = errors_of(tmp_path)
    assert error.startswith(f"{path}:{line}: "), error
    assert message in error


def test_kind_specific_problems(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", """\
        - name: lonely-qcow2
          kind: qcow2
          release: rawhide
          arches: [x86_64]
          compose: {backend: odcs}
        - name: tagged-ostree
          kind: ostree
          release: rawhide
          arches: [x86_64]
          tags: [rawhide]
          built_from: [lonely-qcow2]
          compose:
            backend: koji
            method: buildImageOz
        """)  # fmt: skip
    errors = errors_of(tmp_path)
    a = str(tmp_path / "a.yaml")
    assert errors == [
        f"{a}:1: artifact lonely-qcow2: repositories: a qcow2 needs repositories or built_from",
        f"{a}:6: artifact tagged-ostree: repositories: an ostree is composed from repositories",
        f"{a}:10: artifact tagged-ostree: tags: only repo artifacts are composed from tags; "
        "an ostree is composed from repositories",
        f"{a}:12: artifact tagged-ostree: compose: koji method buildImageOz needs `inst_tree`",
    ]


def test_all_errors_at_once(tmp_path: Path) -> None:
    write(tmp_path, "1-repo.yaml", REPO_YAML)
    write(tmp_path, "2-bad.yaml", """\
        - name: fedora-iot-ostree
          kind: ostree
          release: rawhide
          arches: [x86_64]
          repositories: [rawhide-repo, missing-repo]
          compose: {distro: fedora-44}
        - name: rawhide-repo
          kind: repo
          release: rawhide
          arches: [x86_64]
          tags: [rawhide]
        - name: odd
          kind: vm
          release: rawhide
          arches: x86_64
        """)  # fmt: skip
    write(tmp_path, ".hidden.yaml", "not: [valid\n")
    write(tmp_path, "notes.txt", "ignored")
    errors = errors_of(tmp_path)
    bad = tmp_path / "2-bad.yaml"
    assert errors == [
        f"{bad}:5: artifact fedora-iot-ostree: repositories: missing-repo is not a defined "
        "artifact",
        f"{bad}:7: artifact rawhide-repo: name: duplicate name (first defined at "
        f"{tmp_path / '1-repo.yaml'}:1)",
        f"{bad}:13: artifact odd: kind: unknown kind 'vm'; known kinds: repo, ostree, qcow2, "
        "container",
        f"{bad}:15: artifact odd: arches: must be a list of strings, got a string (write "
        "`arches: [x86_64]`)",
    ]


def test_a_broken_file_hides_only_unresolved_references(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", REPO_YAML.replace("tags: [rawhide]", "repositories: [later]"))
    write(tmp_path, "b.yaml", "- name: later\n  kind: [repo\n")
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    errors = errors_of(tmp_path)
    assert errors[0] == f"{a}:1: artifact rawhide-repo: tags: a repo needs the koji tags it " \
                        "is composed from (or bodhi)"  # fmt: skip
    assert len(errors) == 2 and errors[1].startswith(f"{b}:3: YAML syntax error")


def test_cycles_are_found(tmp_path: Path) -> None:
    def image(name: str, parent: str, key: str = "built_from") -> str:
        return (f"- {{name: {name}, kind: container, release: rawhide, arches: [x86_64], "
                f"{key}: [{parent}], compose: {{backend: odcs}}}}\n")  # fmt: skip

    write(tmp_path, "c.yaml", image("a", "b") + image("b", "c", "repositories") + image("c", "a")
          + image("self", "self"))  # fmt: skip
    c = tmp_path / "c.yaml"
    assert errors_of(tmp_path) == [
        f"{c}:1: artifact a: built_from: cycle in repositories/built_from: a -> b -> c -> a",
        f"{c}:4: artifact self: built_from: cycle in repositories/built_from: self -> self",
    ]


def test_directory_problems(tmp_path: Path) -> None:
    assert errors_of(tmp_path / "nope") == [
        f"{tmp_path / 'nope'}: the artifact definition directory does not exist"
    ]
    assert load_definitions(tmp_path, KINDS) == []
    write(tmp_path, "empty.yaml", "# nothing yet\n")
    assert load_definitions(tmp_path, KINDS) == []


# ---------------------------------------------------------------------- digests


def test_digest_is_stable_under_key_order(tmp_path: Path) -> None:
    one = write(tmp_path / "one", "a.yaml", """\
        name: x
        kind: qcow2
        release: rawhide
        arches: [x86_64]
        repositories: [r]
        compose: {backend: odcs, tag: rawhide, odcs: {flags: [no_deps], sigkeys: [""]}}
        """)  # fmt: skip
    write(tmp_path / "one", "r.yaml", REPO_YAML.replace("rawhide-repo", "r"))
    write(tmp_path / "two", "r.yml", "# the same\n" + REPO_YAML.replace("rawhide-repo", "r"))
    write(tmp_path / "two", "b.yaml", """\
        compose:
          odcs: {sigkeys: [""], flags: [no_deps]}
          tag: rawhide
          backend: odcs
        repositories: [r]
        arches: [x86_64]
        packages: []
        release: rawhide
        kind: qcow2
        name: x
        """)  # fmt: skip
    first = {d.name: d for d in load_definitions(one.parent, KINDS)}
    second = {d.name: d for d in load_definitions(tmp_path / "two", KINDS)}
    assert first["x"].digest == second["x"].digest and first["x"].data == second["x"].data
    assert first["r"].digest == second["r"].digest
    assert first["x"].source != second["x"].source
    write(tmp_path / "two", "b.yaml", (tmp_path / "two" / "b.yaml").read_text()
          .replace("arches: [x86_64]", "arches: [x86_64, aarch64]"))  # fmt: skip
    changed = {d.name: d for d in load_definitions(tmp_path / "two", KINDS)}
    assert changed["x"].digest != first["x"].digest


# ---------------------------------------------------------------------- kinds


def test_installed_kinds_and_traits() -> None:
    kinds = load_kinds()
    assert set(kinds) >= {"repo", "ostree", "qcow2", "container"}
    assert kind_traits(kinds)["repo"] == (False, True)
    assert {kind_traits(kinds)[k] for k in ("ostree", "qcow2", "container")} == {(True, False)}
    repo = kinds["repo"]
    data = {d.name: d for d in load_definitions(SHIPPED, kinds)}["rawhide-repo"].data
    assert repo.top_level(data) == []
    order = {"compose": "rawhide-repo#4", "changes": []}
    assert repo.koji_task(data, order) == ("newRepo", ["rawhide"], {})
    assert repo.odcs_request(data, order)["source"]["type"] == "tag"
    assert repo.command_env(data, order)["RELENGOTRON_TAGS"] == "rawhide"


IMAGE_KIND = """\
from relengotron.adapters.artifacts.kinds import ArtifactKind


class IsoKind(ArtifactKind):
    name = "iso"
    propagates = True
    contains_tags = False
    default_backend = "command"

    def validate(self, data):
        return [] if data["built_from"] else ["built_from: an iso is built from something"]


class NotAKind:
    name = "vm"
"""


def test_a_new_kind_needs_no_engine_change(tmp_path: Path, monkeypatch: Any) -> None:
    """A distribution on sys.path declaring an entry point: its kind's definitions load."""
    write(tmp_path / "site", "relengotron_iso.py", IMAGE_KIND)
    info = tmp_path / "site" / "relengotron_iso-1.0.dist-info"
    write(info, "METADATA", "Metadata-Version: 2.1\nName: relengotron-iso\nVersion: 1.0\n")
    write(info, "entry_points.txt", "[relengotron.artifacts]\niso = relengotron_iso:IsoKind\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    monkeypatch.delitem(sys.modules, "relengotron_iso", raising=False)
    kinds = load_kinds()
    assert type(kinds["iso"]).__name__ == "IsoKind" and "repo" in kinds
    assert kind_traits(kinds)["iso"] == (True, False)
    write(tmp_path / "defs", "iso.yaml", REPO_YAML + textwrap.dedent("""\
        ---
        - name: fedora-workstation-live
          kind: iso
          release: rawhide
          arches: [x86_64]
          built_from: [rawhide-repo]
          packages: [gnome-shell, firefox]
        """))  # fmt: skip
    live = load_definitions(tmp_path / "defs", kinds)[1]
    assert (live.name, live.kind, live.data["compose"]) == (
        "fedora-workstation-live", "iso", {"backend": None})  # fmt: skip
    assert kinds["iso"].top_level(live.data) == ["gnome-shell", "firefox"]
    write(tmp_path / "defs", "iso.yaml", REPO_YAML.replace("rawhide-repo", "lonely-iso")
          .replace("kind: repo", "kind: iso").replace("tags: [rawhide]", ""))  # fmt: skip
    [error] = errors_of(tmp_path / "defs", kinds)
    iso = tmp_path / "defs" / "iso.yaml"
    assert error == f"{iso}:1: artifact lonely-iso: built_from: an iso is built from something"


def ep(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name, value, "relengotron.artifacts")


def test_entry_points_can_be_given() -> None:
    kinds = load_kinds([ep("repo", "relengotron.adapters.artifacts.kinds:RepoKind"),
                        ep("repo", "relengotron.adapters.artifacts.kinds:RepoKind")])  # fmt: skip
    assert list(kinds) == ["repo"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("iso", "no_such_module_here:IsoKind"), "cannot be loaded: ModuleNotFoundError"),
        (("iso", "relengotron_iso2:Missing"), "cannot be loaded: AttributeError"),
        (("vm", "relengotron_iso2:NotAKind"), "not a subclass of adapters.artifacts"),
        (("cd", "relengotron_iso2:IsoKind"), "the class says its name is 'iso'"),
        (("Bad Name", "relengotron_iso2:IsoKind"), "kind names are"),
    ],
)
def test_a_broken_plugin_is_named(
    tmp_path: Path, monkeypatch: Any, entry: tuple[str, str], message: str
) -> None:
    write(tmp_path, "relengotron_iso2.py", IMAGE_KIND)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, "relengotron_iso2", raising=False)
    with pytest.raises(KindLoadError) as info:
        load_kinds([ep(*entry)])
    assert f"entry point {entry[0]} = {entry[1]!r} in group relengotron.artifacts" in str(
        info.value
    )
    assert message in str(info.value)


def test_two_plugins_for_one_kind() -> None:
    with pytest.raises(KindLoadError, match="two plugins define kind repo"):
        load_kinds([ep("repo", "relengotron.adapters.artifacts.kinds:RepoKind"),
                    ep("repo", "relengotron.adapters.artifacts.kinds:OstreeKind")])  # fmt: skip


def test_kinds_are_artifact_kinds() -> None:
    for kind in load_kinds().values():
        assert isinstance(kind, ArtifactKind)
        assert kind.default_backend in ("koji", "odcs", "command")
