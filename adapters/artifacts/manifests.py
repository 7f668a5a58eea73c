"""Package manifests of artifacts: what an image or a compose would contain.

* ``RepoMetadata``: a repository's ``primary.xml`` in a libsolv pool; an artifact defined
  by top-level package names gets its depsolved closure (``dnf install`` on an empty root).
* ``adapters.artifacts.rpms_json.parse_rpms_json``: the rpms a productmd compose shipped
  (``metadata/rpms.json``), read and validated by ``productmd``.

A ``Manifest`` maps *source* package names to their NVR (no epoch), what gating decides
about, and lists the binary NEVRAs (epoch always written).

libsolv facts this relies on (python bindings ``solv`` 0.7):

* ``XSolvable.evrcmp`` is rpm's EVR order (``rpmvercmp`` with ``~`` and ``^``; checked equal to
  rpm's own and to our former comparison on the corpus, ``tests/unit/test_rpm_versions.py``).
* ``solv.xfopen``/``xfopen_fd`` pick a decompressor by the name's suffix and return None
  for one libsolv was built without (the PyPI wheel has ``.gz`` but no ``.zst``/``.xz``);
  those are decompressed here into a temporary file. ``xfopen_fd`` dups the descriptor.
* ``Repo.add_rpmmd`` returns False on bad XML, with the reason in ``Pool.errstr``.
* ``XSolvable.lookup_sourcepkg()`` gives the source rpm's file name without the epoch
  (``openssl-3.1.1-4.fc40.src.rpm`` for ``openssl-libs-1:3.1.1-4.fc40``).
* A selection skips source rpms and arches the pool's arch cannot install; a name that
  matches a package name wins over the same string as a provide.
* ``Solver.raw_decisions(1)`` (plain ids) is what ``transaction().newsolvables()`` gives
  when nothing is installed, ~50 times faster on 2,000-package closures.

Unsatisfiable top-level packages: the solve is first run strictly (install jobs with
``SOLVER_FORCEBEST``); its problems are reported as text, and the closure is then what a
second solve with every job ``SOLVER_WEAK`` installs (libsolv drops the weak jobs that
cannot be met, and keeps the rest).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import lzma
import os
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import solv
import zstandard

_REPO_NS = "{http://linux.duke.edu/metadata/repo}"
# (magic bytes, suffix libsolv's xfopen knows the compression by)
_MAGIC = ((b"\x1f\x8b", ".gz"), (b"\xfd7zXZ\x00", ".xz"), (b"\x28\xb5\x2f\xfd", ".zst"))
_S = solv.Selection  # a name, else a provide; also "/usr/bin/x", "foo.i686", "foo >= 1"
_SELECT = (_S.SELECTION_NAME | _S.SELECTION_PROVIDES | _S.SELECTION_FILELIST
           | _S.SELECTION_DOTARCH | _S.SELECTION_REL)  # fmt: skip
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Manifest:
    packages: dict[str, str]  # source name -> source NVR (no epoch)
    rpms: tuple[str, ...]  # binary NEVRAs, sorted
    missing: tuple[str, ...] = ()  # top-level names nothing provides
    problems: tuple[str, ...] = ()  # solver problems, readable


class _Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class ManifestError(Exception):
    """Metadata that cannot be read: not found, unreadable, not valid, HTTP error."""


# ------------------------------------------------------------------ versions


class Versions:
    """rpm's order of versions, releases and ``[epoch:]version-release`` strings, from
    libsolv (``XSolvable.evrcmp``: rpm's ``rpmvercmp`` with ``~`` and ``^``), in a pool
    of its own or one given. Not thread-safe: one per thread or per call."""

    def __init__(self, pool: solv.Pool | None = None) -> None:
        self._pool = pool or solv.Pool()  # the solvables die with it: keep it
        self._repo = self._pool.add_repo("evrcmp")
        self._a, self._b = self._repo.add_solvable(), self._repo.add_solvable()

    def compare(self, a: str, b: str) -> int:
        """-1, 0 or 1 as ``a`` sorts before, with or after ``b``."""
        if a == b:
            return 0
        self._a.evr, self._b.evr = a, b
        return max(-1, min(1, int(self._a.evrcmp(self._b))))


def vercmp(a: str, b: str) -> int:
    """rpm's version (or release, or EVR) comparison: -1, 0 or 1 (libsolv's)."""
    return Versions().compare(a, b)


def _split_nevr(nevr: str) -> tuple[str, str, str, str]:
    """``name-[epoch:]version-release`` -> (name, epoch, version, release)."""
    name, _, rest = nevr.rpartition("-")
    name, _, version = name.rpartition("-")
    if not name or not version or not rest:
        raise ValueError(f"not a name-version-release: {nevr!r}")
    epoch, _, version = version.rpartition(":")
    return name, epoch or "0", version, rest


def _keep_newest(packages: dict[str, str], name: str, nvr: str, versions: Versions) -> None:
    old = packages.get(name)
    if old is not None and old != nvr:
        _, _, v_old, r_old = _split_nevr(old)
        _, _, v_new, r_new = _split_nevr(nvr)
        if versions.compare(f"{v_new}-{r_new}", f"{v_old}-{r_old}") <= 0:
            return
    packages[name] = nvr


# ------------------------------------------------------------------ reading


def _is_url(location: str | Path) -> bool:
    return isinstance(location, str) and location.startswith(("http://", "https://"))


def _fetch(url: str, timeout: float) -> bytes:
    with _open_url(url, timeout) as resp:
        try:
            return resp.read()
        except OSError as exc:
            raise ManifestError(f"{url}: read failed: {exc}") from exc


def _open_url(url: str, timeout: float) -> IO[bytes]:
    try:
        resp: IO[bytes] = urllib.request.urlopen(url, timeout=timeout)
        return resp
    except urllib.error.HTTPError as exc:
        raise ManifestError(f"{url}: HTTP error {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ManifestError(f"{url}: cannot download: {reason}") from exc


def _copy(
    src: _Readable, dest: IO[bytes] | None, label: str, checksum: tuple[str, str] | None
) -> None:
    """Copy ``src`` to ``dest``, checking the repomd.xml checksum if given."""
    kind = {"sha": "sha1"}.get(checksum[0], checksum[0]) if checksum else ""
    digest = hashlib.new(kind) if kind in hashlib.algorithms_available else None
    try:
        while chunk := src.read(_CHUNK):
            if dest is not None:
                dest.write(chunk)
            if digest is not None:
                digest.update(chunk)
    except OSError as exc:
        raise ManifestError(f"{label}: read failed: {exc}") from exc
    if digest is not None and checksum is not None and digest.hexdigest() != checksum[1]:
        got = digest.hexdigest()
        raise ManifestError(f"{label}: {kind} checksum {got}, repomd.xml says {checksum[1]}")


def _repomd_primary(data: bytes, label: str) -> tuple[str, tuple[str, str] | None]:
    """The primary's href (relative to the repository root) and checksum from repomd.xml."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ManifestError(f"{label}: not valid XML: {exc}") from exc
    for entry in root.iter(f"{_REPO_NS}data"):
        loc, summed = entry.find(f"{_REPO_NS}location"), entry.find(f"{_REPO_NS}checksum")
        if entry.get("type") == "primary" and loc is not None and loc.get("href"):
            kind, value = ("", "") if summed is None else (summed.get("type", ""), summed.text)
            return loc.get("href", ""), (kind.lower(), (value or "").strip()) if kind else None
    raise ManifestError(f"{label}: no primary metadata location in repomd.xml")


def _primary_url(url: str, timeout: float) -> tuple[str, tuple[str, str] | None]:
    path = urllib.parse.urlsplit(url).path
    last = path.rstrip("/").rsplit("/", 1)[-1]
    if ".xml" in last and last != "repomd.xml":  # a primary.xml[.gz...] file
        return url, None
    if last == "repomd.xml":
        repomd = url
    elif last == "repodata":
        repomd = url.rstrip("/") + "/repomd.xml"
    else:
        repomd = url.rstrip("/") + "/repodata/repomd.xml"
    href, checksum = _repomd_primary(_fetch(repomd, timeout), repomd)
    return urllib.parse.urljoin(repomd, "../" + href), checksum


def _primary_path(path: Path) -> tuple[Path, tuple[str, str] | None]:
    if not path.exists():
        raise ManifestError(f"{path}: no such file or directory")
    repomd = path
    if path.is_dir():
        found = [p for p in (path / "repodata" / "repomd.xml", path / "repomd.xml") if p.is_file()]
        if not found:
            raise ManifestError(f"{path}: a directory without repodata/repomd.xml")
        repomd = found[0]
    elif path.name != "repomd.xml":
        return path, None
    try:
        data = repomd.read_bytes()
    except OSError as exc:
        raise ManifestError(f"{repomd}: unreadable: {exc}") from exc
    href, checksum = _repomd_primary(data, str(repomd))
    return repomd.parent.parent / href, checksum


def _decompressor(suffix: str, raw: IO[bytes]) -> _Readable:
    if suffix == ".gz":
        return gzip.GzipFile(fileobj=raw)
    if suffix == ".xz":
        return lzma.LZMAFile(raw)
    return zstandard.ZstdDecompressor().stream_reader(raw)


def _add_primary(pool: solv.Pool, repo: solv.Repo, path: Path, label: str) -> None:
    """Parse primary.xml (plain or compressed, whatever its name) at ``path`` into ``repo``."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise ManifestError(f"{label}: unreadable: {exc}") from exc
    with contextlib.ExitStack() as stack:
        stack.callback(os.close, fd)
        head = os.pread(fd, 8, 0)
        suffix = next((s for magic, s in _MAGIC if head.startswith(magic)), "")
        fp = solv.xfopen_fd("primary.xml" + suffix, fd)  # reads a dup of fd
        if fp is None:  # a compression this libsolv lacks: decompress here
            plain = stack.enter_context(tempfile.TemporaryFile())
            try:
                with path.open("rb") as raw:
                    _copy(_decompressor(suffix, raw), plain, label, None)
            except (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError) as exc:
                raise ManifestError(f"{label}: cannot decompress ({suffix}): {exc}") from exc
            plain.flush()
            os.lseek(plain.fileno(), 0, os.SEEK_SET)
            fp = solv.xfopen_fd("primary.xml", plain.fileno())
        if fp is None:
            raise ManifestError(f"{label}: libsolv cannot open it")
        ok = repo.add_rpmmd(fp, None, 0)
        fp.close()
    if not ok:
        raise ManifestError(f"{label}: not valid primary.xml: {' '.join(pool.errstr.split())}")


# ------------------------------------------------------------------ solving


class RepoMetadata:
    """One repository's primary metadata in a libsolv pool, ready for depsolving."""

    def __init__(self, pool: solv.Pool, repo: solv.Repo, location: str) -> None:
        self._pool, self._repo, self.location = pool, repo, location
        self._info: dict[int, tuple[str, str, str]] = {}  # solvable id -> src, nvr, nevra

    def __repr__(self) -> str:
        return f"RepoMetadata({self.location!r}, count={self.count})"

    @classmethod
    def load(
        cls, location: str | Path, *, arch: str = "x86_64", timeout: float = 60.0
    ) -> RepoMetadata:
        """Load from a repository directory (with repodata/repomd.xml), a repodata directory,
        a repomd.xml, a primary.xml[.gz|.zst|.xz] file, or an http(s) URL of any."""
        pool = solv.Pool()
        pool.setarch(arch)
        repo = pool.add_repo(str(location))
        label = str(location)
        if _is_url(location):
            url, checksum = _primary_url(str(location), timeout)
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / "primary"
                with _open_url(url, timeout) as resp, path.open("wb") as out:
                    _copy(resp, out, url, checksum)
                _add_primary(pool, repo, path, url)
        else:
            path, checksum = _primary_path(Path(location))
            if checksum is not None:
                try:
                    with path.open("rb") as raw:
                        _copy(raw, None, str(path), checksum)
                except OSError as exc:
                    raise ManifestError(f"{path}: unreadable: {exc}") from exc
            _add_primary(pool, repo, path, str(path))
        pool.addfileprovides()
        pool.createwhatprovides()
        return cls(pool, repo, label)

    @property
    def count(self) -> int:
        """The number of packages loaded."""
        return int(self._repo.nsolvables)

    def closure(self, top_level: Sequence[str], *, weak_deps: bool = False) -> Manifest:
        """Everything installing ``top_level`` (names, else provides) onto nothing brings."""
        jobs, missing = [], []
        for name in dict.fromkeys(top_level):
            sel = self._pool.select(name, _SELECT)
            if sel.isempty():
                missing.append(name)
            else:
                jobs += sel.jobs(solv.Job.SOLVER_INSTALL)
        if not jobs:
            return Manifest({}, (), tuple(missing))
        solver = self._solver(weak_deps)
        problems = solver.solve([self._pool.Job(j.how | solv.Job.SOLVER_FORCEBEST, j.what)
                                 for j in jobs])  # fmt: skip
        texts = tuple(_problem_text(p) for p in problems)
        if problems:
            solver = self._solver(weak_deps)
            left = solver.solve([self._pool.Job(j.how | solv.Job.SOLVER_WEAK, j.what)
                                 for j in jobs])  # fmt: skip
            if left:  # not expected: weak jobs give way; report and give up on a closure
                return Manifest({}, (), tuple(missing), texts + tuple(map(_problem_text, left)))
        packages: dict[str, str] = {}
        rpms = []
        versions = Versions()  # a pool of its own: this one holds only the repository
        for sid in self._installed(solver):
            src, nvr, nevra = self._describe(sid)
            _keep_newest(packages, src, nvr, versions)
            rpms.append(nevra)
        return Manifest(dict(sorted(packages.items())), tuple(sorted(rpms)), tuple(missing), texts)

    def closures(
        self, definitions: Mapping[str, Sequence[str]], *, weak_deps: bool = False
    ) -> dict[str, Manifest]:
        """``closure`` of each artifact's top-level names."""
        return {key: self.closure(names, weak_deps=weak_deps) for key, names in definitions.items()}

    def _solver(self, weak_deps: bool) -> solv.Solver:
        solver = self._pool.Solver()
        solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, int(not weak_deps))
        return solver

    def _installed(self, solver: solv.Solver) -> list[int]:
        """The ids of the solvables the solve installs (the root is empty: all are new)."""
        if not hasattr(solver, "raw_decisions"):  # older bindings: slower, same answer
            return [s.id for s in solver.transaction().newsolvables()]
        # the pool holds only this repo: ids 0 and 1 are "no solvable" and the system one
        return [p for p in solver.raw_decisions(1) if p > 1]

    def _describe(self, sid: int) -> tuple[str, str, str]:
        info = self._info.get(sid)
        if info is None:
            s = self._pool.id2solvable(sid)
            evr = s.evr if ":" in s.evr else f"0:{s.evr}"
            src, nvr = _source_of(s.lookup_sourcepkg(), s.name, s.evr)
            info = self._info[sid] = (src, nvr, f"{s.name}-{evr}.{s.arch}")
        return info


def _source_of(sourcepkg: str | None, name: str, evr: str) -> tuple[str, str]:
    """(source name, source NVR) from ``name-version-release.arch.rpm``, else the binary."""
    if sourcepkg and sourcepkg.endswith(".rpm"):
        stem = sourcepkg[: -len(".rpm")].rpartition(".")[0]  # drop .src / .nosrc
        with contextlib.suppress(ValueError):
            src, _, version, release = _split_nevr(stem)
            return src, f"{src}-{version}-{release}"
    return name, f"{name}-{evr.partition(':')[2] or evr}"


def _problem_text(problem: solv.Problem) -> str:
    lines = [str(rule.info()) for rule in problem.findallproblemrules()]
    return "; ".join(dict.fromkeys(lines)) or str(problem)


__all__ = ["Manifest", "ManifestError", "RepoMetadata", "Versions", "vercmp"]
