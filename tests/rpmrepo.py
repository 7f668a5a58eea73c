"""Build a real (tiny) RPM repository for tests: rpmbuild the specs, then createrepo_c.

Each ``Source`` becomes one .spec; its ``Binary`` entries become the main package (when a
binary has the source's name) or ``%package -n`` subpackages, all noarch, with no build
step and at most a few empty files (so that file provides such as ``/usr/bin/bash`` land
in primary.xml). All specs are built by one ``rpmbuild -bb`` run.

If ``rpmbuild`` or ``createrepo_c`` is missing the test is skipped, or failed when the
environment says ``CI=true``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class Binary:
    name: str
    requires: tuple[str, ...] = ()
    provides: tuple[str, ...] = ()
    recommends: tuple[str, ...] = ()
    conflicts: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # absolute paths, created empty


@dataclass(frozen=True)
class Source:
    name: str
    version: str
    release: str
    binaries: tuple[Binary, ...]
    epoch: int | None = None

    @property
    def nvr(self) -> str:
        return f"{self.name}-{self.version}-{self.release}"

    def evr(self) -> str:
        """The binaries' EVR as written in a NEVRA: always with an epoch."""
        return f"{self.epoch or 0}:{self.version}-{self.release}"


def require_tools() -> tuple[str, str]:
    """The paths of rpmbuild and createrepo_c, or skip (fail under CI=true)."""
    found = {tool: shutil.which(tool) for tool in ("rpmbuild", "createrepo_c")}
    missing = [tool for tool, path in found.items() if path is None]
    if missing:
        why = f"{' and '.join(missing)} not installed (Debian packages rpm, createrepo-c)"
        if os.environ.get("CI") == "true":
            pytest.fail(why)
        pytest.skip(why)
    return found["rpmbuild"] or "", found["createrepo_c"] or ""


def _deps(tag: str, deps: Sequence[str]) -> list[str]:
    return [f"{tag}: {dep}" for dep in deps]


def _preamble(binary: Binary) -> list[str]:
    return [
        *_deps("Requires", binary.requires),
        *_deps("Provides", binary.provides),
        *_deps("Recommends", binary.recommends),
        *_deps("Conflicts", binary.conflicts),
    ]


def spec_text(src: Source) -> str:
    """The .spec of one source package."""
    main = next((b for b in src.binaries if b.name == src.name), None)
    lines = [
        f"Name: {src.name}",
        *([f"Epoch: {src.epoch}"] if src.epoch is not None else []),
        f"Version: {src.version}",
        f"Release: {src.release}",
        f"Summary: {src.name} test package",
        "License: MIT",
        "BuildArch: noarch",
        *(_preamble(main) if main else []),
        "",
        "%description",
        f"Test source package {src.name}.",
        "",
    ]
    subs = [b for b in src.binaries if b is not main]
    for sub in subs:
        lines += [f"%package -n {sub.name}", f"Summary: {sub.name} test subpackage"]
        lines += [*_preamble(sub), "", f"%description -n {sub.name}", "Test subpackage.", ""]
    files = [f for b in src.binaries for f in b.files]
    lines.append("%install")
    for path in files:
        lines.append(f"mkdir -p %{{buildroot}}{os.path.dirname(path)}")
        lines.append(f"touch %{{buildroot}}{path}")
    lines.append("")
    if main:
        lines += ["%files", *main.files, ""]
    for sub in subs:
        lines += [f"%files -n {sub.name}", *sub.files, ""]
    return "\n".join(lines)


def build_repo(sources: Sequence[Source], workdir: Path) -> Path:
    """Build the binary rpms of ``sources`` under ``workdir`` and index them: the repo path."""
    rpmbuild, createrepo = require_tools()
    top = workdir / "rpmbuild"
    specs = top / "SPECS"
    specs.mkdir(parents=True)
    paths = []
    for src in sources:
        path = specs / f"{src.name}.spec"
        path.write_text(spec_text(src))
        paths.append(str(path))
    defines = {
        "_topdir": str(top),
        "debug_package": "%{nil}",
        "__os_install_post": "%{nil}",
        "_build_id_links": "none",
        "_source_payload": "w0.gzdio",
        "_binary_payload": "w0.gzdio",
    }
    args = [rpmbuild, "-bb", "--nodeps", "--quiet"]
    for key, value in defines.items():
        args += ["--define", f"{key} {value}"]
    _run([*args, *paths])
    repo = workdir / "repo"
    shutil.copytree(top / "RPMS", repo)
    _run([createrepo, "--no-database", "--general-compress-type=gz", str(repo)])
    return repo


def _run(args: list[str]) -> None:
    done = subprocess.run(args, capture_output=True, text=True, check=False, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(
            f"{Path(args[0]).name} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        )
