"""Package manifests: libsolv closures on a real rpmbuild + createrepo_c repository.

The expected closures are checked two independent ways: written out by hand, and
computed by a naive breadth-first resolver over primary.xml (xml.etree) in this file.
"""

from __future__ import annotations

import functools
import gzip
import http.server
import json
import lzma
import shutil
import threading
import xml.etree.ElementTree as ET
from collections import deque
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zstandard

from relengotron.adapters.artifacts.manifests import Manifest, ManifestError, RepoMetadata, vercmp
from relengotron.adapters.artifacts.rpms_json import parse_rpms_json
from tests.rpmrepo import Binary, Source, build_repo

# ------------------------------------------------------------------ the universe

SOURCES = (
    Source("glibc", "2.38", "3.fc40", (Binary("glibc", requires=("glibc-common",)),
                                       Binary("glibc-common"))),
    Source("bash", "5.2.15", "1.fc40",
           (Binary("bash", requires=("glibc",), files=("/usr/bin/bash",)),)),
    Source("openssl", "3.1.1", "4.fc40", (Binary("openssl-libs", requires=("glibc",),
                                                 provides=("libssl = 3.1.1",)),), epoch=1),
    Source("compat-openssl10", "1.0.2o", "9.fc40", (
        Binary("compat-openssl10", requires=("glibc",), provides=("libssl = 1.0.2",),
               conflicts=("openssl-libs",)),)),
    Source("apr", "1.7.4", "1.fc40", (Binary("apr", requires=("glibc",)),)),
    Source("httpd", "2.4.58", "1.fc40", (
        Binary("httpd", requires=("httpd-core",), provides=("webserver",),
               recommends=("mod_ssl",)),
        Binary("httpd-core", requires=("apr >= 1.7", "/usr/bin/bash")),
        Binary("mod_ssl", requires=("httpd-core", "libssl >= 3.0")))),
    Source("nginx", "1.24.0", "1.fc40", (Binary("nginx", requires=("glibc",)),)),
    Source("webapp", "1.0", "1.fc40", (
        Binary("webapp", requires=("webserver",)),
        Binary("webapp-broken", requires=("webapp", "no-such-lib")))),
)  # fmt: skip
BY_BINARY = {b.name: src for src in SOURCES for b in src.binaries}


def nevras(*names: str) -> tuple[str, ...]:
    return tuple(sorted(f"{n}-{BY_BINARY[n].evr()}.noarch" for n in names))


def sources(*names: str) -> dict[str, str]:
    return {BY_BINARY[n].name: BY_BINARY[n].nvr for n in names}


BASE = ("bash", "glibc", "glibc-common")
HTTPD = (*BASE, "httpd", "httpd-core", "apr")
# Hand-derived: top-level names -> the binaries libsolv must install (no weak deps).
EXPECTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "bash": (("bash",), BASE),
    "webapp": (("webapp",), (*HTTPD, "webapp")),  # chain webapp>httpd>core>apr>glibc
    "webserver": (("webserver",), HTTPD),  # a virtual provide
    "mod_ssl": (("mod_ssl",), (*BASE, "mod_ssl", "httpd-core", "apr", "openssl-libs")),
    "file-dep": (("/usr/bin/bash",), BASE),
    "two": (("nginx", "bash"), (*BASE, "nginx")),
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """What the HTTP server serves: compose/metadata/rpms.json, and repo/ once built."""
    root = tmp_path_factory.mktemp("manifests")
    compose = root / "compose" / "metadata"
    compose.mkdir(parents=True)
    (compose / "rpms.json").write_text(json.dumps(RPMS_JSON))
    return root


@pytest.fixture(scope="module")
def repo(workdir: Path) -> Path:
    build_repo(SOURCES, workdir / "build")  # skips (or fails under CI) without the tools
    shutil.move(workdir / "build" / "repo", workdir / "repo")
    return workdir / "repo"


@pytest.fixture(scope="module")
def primary_gz(repo: Path) -> Path:
    (found,) = (repo / "repodata").glob("*-primary.xml.gz")
    return found


@pytest.fixture(scope="module")
def meta(repo: Path) -> RepoMetadata:
    return RepoMetadata.load(repo)


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def http_base(workdir: Path) -> Iterator[str]:
    handler = functools.partial(_Quiet, directory=str(workdir))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ------------------------------------------------------------------ a naive resolver

RPM = "{http://linux.duke.edu/metadata/rpm}"
COMMON = "{http://linux.duke.edu/metadata/common}"


def _ver(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def _satisfies(entry: ET.Element, need: ET.Element) -> bool:
    """Does the provide ``entry`` meet the require ``need``? (EQ provides, GE requires.)"""
    if entry.get("name") != need.get("name"):
        return False
    if need.get("flags") is None:
        return True
    assert need.get("flags") == "GE" and entry.get("flags") == "EQ", (need.attrib, entry.attrib)
    return _ver(entry.get("ver", "")) >= _ver(need.get("ver", ""))


def naive_closure(primary: Path, top_level: list[str], weak: bool = False) -> Manifest:
    pkgs = ET.fromstring(gzip.decompress(primary.read_bytes())).findall(f"{COMMON}package")
    by_name = {p.findtext(f"{COMMON}name"): p for p in pkgs}

    def deps(pkg: ET.Element, kind: str) -> list[ET.Element]:
        return pkg.findall(f"{COMMON}format/{RPM}{kind}/{RPM}entry")

    def provider(need: ET.Element) -> ET.Element:
        for pkg in pkgs:  # first in document order
            files = [f.text for f in pkg.findall(f"{COMMON}format/{COMMON}file")]
            if any(_satisfies(e, need) for e in deps(pkg, "provides")) or need.get("name") in files:
                return pkg
        raise AssertionError(f"nothing provides {need.attrib}")

    queue = deque(by_name.get(n) or provider(ET.Element("x", name=n)) for n in top_level)
    done: dict[str, ET.Element] = {}
    while queue:
        pkg = queue.popleft()
        name = pkg.findtext(f"{COMMON}name") or ""
        if name in done:
            continue
        done[name] = pkg
        wanted = deps(pkg, "requires") + (deps(pkg, "recommends") if weak else [])
        queue.extend(provider(need) for need in wanted)
    rpms, packages = [], {}
    for name, pkg in done.items():
        v = pkg.find(f"{COMMON}version")
        assert v is not None
        rpms.append(f"{name}-{v.get('epoch')}:{v.get('ver')}-{v.get('rel')}.noarch")
        srpm = pkg.findtext(f"{COMMON}format/{RPM}sourcerpm") or ""
        src_name, src_ver, src_rel = srpm.removesuffix(".src.rpm").rsplit("-", 2)
        packages[src_name] = f"{src_name}-{src_ver}-{src_rel}"
    return Manifest(dict(sorted(packages.items())), tuple(sorted(rpms)))


# ------------------------------------------------------------------ closures


def test_repo_has_the_universe(meta: RepoMetadata) -> None:
    assert meta.count == len(BY_BINARY) == 12


@pytest.mark.parametrize("case", sorted(EXPECTED))
def test_closure_matches_hand_and_naive(meta: RepoMetadata, primary_gz: Path, case: str) -> None:
    top, binaries = EXPECTED[case]
    got = meta.closure(list(top))
    assert got == Manifest(sources(*binaries), nevras(*binaries))
    assert got == naive_closure(primary_gz, list(top))


def test_two_binaries_of_one_source_are_one_package_and_epochs(meta: RepoMetadata) -> None:
    got = meta.closure(["bash"])
    assert got.packages == {"bash": "bash-5.2.15-1.fc40", "glibc": "glibc-2.38-3.fc40"}
    assert len(got.rpms) == 3
    got = meta.closure(["openssl-libs"])  # the epoch is in the NEVRA, not in the NVR
    assert "openssl-libs-1:3.1.1-4.fc40.noarch" in got.rpms
    assert got.packages["openssl"] == "openssl-3.1.1-4.fc40"


def test_recommends_only_with_weak_deps(meta: RepoMetadata, primary_gz: Path) -> None:
    plain = meta.closure(["webapp"])
    weak = meta.closure(["webapp"], weak_deps=True)
    assert "mod_ssl" not in {r.rsplit("-", 2)[0] for r in plain.rpms}
    want = (*HTTPD, "webapp", "mod_ssl", "openssl-libs")
    assert weak == Manifest(sources(*want), nevras(*want))
    assert weak == naive_closure(primary_gz, ["webapp"], weak=True)
    assert "nginx" not in weak.packages and "compat-openssl10" not in weak.packages


def test_missing_top_level_is_reported_not_raised(meta: RepoMetadata) -> None:
    got = meta.closure(["no-such-package", "bash", "no-such-package"])
    assert got.missing == ("no-such-package",)
    assert got.rpms == nevras(*BASE) and not got.problems
    assert meta.closure(["nothing-at-all"]) == Manifest({}, (), ("nothing-at-all",))


def test_versioned_top_level(meta: RepoMetadata) -> None:
    assert meta.closure(["libssl >= 3"]).packages["openssl"] == "openssl-3.1.1-4.fc40"
    assert meta.closure(["libssl >= 4"]).missing == ("libssl >= 4",)


def test_unsatisfiable_top_level_is_a_problem_and_the_rest_is_solved(meta: RepoMetadata) -> None:
    got = meta.closure(["webapp-broken", "bash"])
    assert got.rpms == nevras(*BASE)  # webapp-broken left out, bash still solved
    assert len(got.problems) == 1 and "no-such-lib" in got.problems[0]
    assert "webapp-broken" in got.problems[0]


def test_conflict_is_a_problem_and_one_side_is_kept(meta: RepoMetadata) -> None:
    got = meta.closure(["compat-openssl10", "mod_ssl"])
    assert got.problems and "conflict" in " ".join(got.problems)
    names = {r.rsplit("-", 2)[0] for r in got.rpms}
    assert len(names & {"compat-openssl10", "mod_ssl"}) == 1


def test_closures_of_several_artifacts(meta: RepoMetadata) -> None:
    defs = {"web": ["webapp"], "shell": ["bash"], "none": []}
    got = meta.closures(defs)
    assert list(got) == ["web", "shell", "none"]
    assert got["shell"] == meta.closure(["bash"])
    assert got["none"] == Manifest({}, ())
    assert "openssl" in meta.closures(defs, weak_deps=True)["web"].packages


# ------------------------------------------------------------------ loading


@pytest.fixture(scope="module")
def primaries(workdir: Path, primary_gz: Path) -> dict[str, Path]:
    xml = gzip.decompress(primary_gz.read_bytes())
    out = workdir / "primaries"
    out.mkdir()
    files = {
        "primary.xml": xml,
        "primary.xml.zst": zstandard.ZstdCompressor().compress(xml),
        "primary.xml.xz": lzma.compress(xml),
        "zstd-without-suffix": zstandard.ZstdCompressor().compress(xml),
    }
    for name, data in files.items():
        (out / name).write_bytes(data)
    return {name: out / name for name in files} | {"primary.xml.gz": primary_gz}


@pytest.mark.parametrize(
    "which",
    ["primary.xml", "primary.xml.gz", "primary.xml.zst", "primary.xml.xz", "zstd-without-suffix"],
)
def test_load_primary_files(primaries: dict[str, Path], meta: RepoMetadata, which: str) -> None:
    loaded = RepoMetadata.load(primaries[which])
    assert loaded.count == 12
    assert loaded.closure(["webapp"]) == meta.closure(["webapp"])


def test_load_repodata_dir_and_repomd(repo: Path, meta: RepoMetadata) -> None:
    for where in (repo / "repodata", repo / "repodata" / "repomd.xml", str(repo)):
        assert RepoMetadata.load(where).closure(["mod_ssl"]) == meta.closure(["mod_ssl"])


@pytest.mark.parametrize(
    "path", ["repo", "repo/", "repo/repodata", "repo/repodata/repomd.xml", "repo/repodata/PRIMARY"]
)
def test_load_over_http(http_base: str, meta: RepoMetadata, primary_gz: Path, path: str) -> None:
    loaded = RepoMetadata.load(
        f"{http_base}/{path}".replace("PRIMARY", primary_gz.name), timeout=10
    )
    assert loaded.count == 12
    assert loaded.closure(["webapp"], weak_deps=True) == meta.closure(["webapp"], weak_deps=True)


def test_arch_filters_what_is_installable(tmp_path: Path, primary_gz: Path) -> None:
    xml = gzip.decompress(primary_gz.read_bytes()).decode()
    noarch = "<name>nginx</name>\n  <arch>noarch</arch>"
    assert noarch in xml
    s390x = tmp_path / "primary.xml"
    s390x.write_text(xml.replace(noarch, "<name>nginx</name>\n  <arch>s390x</arch>"))
    assert RepoMetadata.load(s390x).closure(["nginx"]).missing == ("nginx",)
    on_s390x = RepoMetadata.load(s390x, arch="s390x").closure(["nginx"])
    assert on_s390x.rpms == (*nevras(*BASE[1:]), "nginx-0:1.24.0-1.fc40.s390x")


# ------------------------------------------------------------------ errors


def test_missing_path(tmp_path: Path) -> None:
    where = tmp_path / "nowhere"
    with pytest.raises(ManifestError, match="nowhere"):
        RepoMetadata.load(where)
    with pytest.raises(ManifestError, match="without repodata"):
        RepoMetadata.load(tmp_path)


def test_bad_xml(tmp_path: Path) -> None:
    bad = tmp_path / "primary.xml"
    bad.write_text('<metadata xmlns="http://linux.duke.edu/metadata/common"><package>')
    with pytest.raises(ManifestError, match=r"primary\.xml.*not valid"):
        RepoMetadata.load(bad)
    bad_gz = tmp_path / "primary.xml.gz"
    bad_gz.write_bytes(gzip.compress(b"not xml at all"))
    with pytest.raises(ManifestError, match=r"primary\.xml\.gz"):
        RepoMetadata.load(bad_gz)


def test_bad_repomd_and_checksum(tmp_path: Path, repo: Path, primary_gz: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)
    primary = copy / "repodata" / primary_gz.name
    primary.write_bytes(gzip.compress(gzip.decompress(primary.read_bytes()), mtime=1))
    with pytest.raises(ManifestError, match="checksum"):
        RepoMetadata.load(copy)
    (copy / "repodata" / "repomd.xml").write_text("<repomd")
    with pytest.raises(ManifestError, match=r"repomd\.xml.*not valid XML"):
        RepoMetadata.load(copy)


def test_http_404(http_base: str) -> None:
    url = f"{http_base}/no-such-repo/"
    with pytest.raises(ManifestError, match=rf"{url}repodata/repomd\.xml: HTTP error 404"):
        RepoMetadata.load(url)
    with pytest.raises(ManifestError, match="404"):
        RepoMetadata.load(f"{http_base}/repo/repodata/gone-primary.xml.gz")


def test_connection_refused() -> None:
    with pytest.raises(ManifestError, match=r"127\.0\.0\.1:9"):
        RepoMetadata.load("http://127.0.0.1:9/repo", timeout=5)


# ------------------------------------------------------------------ rpms.json


EV, SV = "Everything", "Server"
BASH, GLIBC = "bash-0:5.2.26-3.fc40", "glibc-0:2.39-2.fc40"
OPENSSL, KERNEL = "openssl-1:3.2.1-2.fc40", "kernel-0:6.8.5-301.fc40"
ROWS = [  # variant, arch, source rpm, rpm, category
    (EV, "x86_64", f"{BASH}.src", f"{BASH}.src", "source"),
    (EV, "x86_64", f"{BASH}.src", f"{BASH}.x86_64", "binary"),
    (EV, "x86_64", f"{BASH}.src", "bash-debuginfo-0:5.2.26-3.fc40.x86_64", "debug"),
    (EV, "x86_64", f"{GLIBC}.src", f"{GLIBC}.x86_64", "binary"),
    (EV, "x86_64", f"{GLIBC}.src", f"{GLIBC}.i686", "binary"),  # multilib
    (EV, "x86_64", f"{GLIBC}.src", "glibc-common-0:2.39-2.fc40.x86_64", "binary"),
    (EV, "x86_64", f"{GLIBC}.src", "glibc-debuginfo-0:2.39-2.fc40.x86_64", "debug"),
    (EV, "x86_64", f"{KERNEL}.src", f"{KERNEL}.src", "source"),  # no binary here
    (EV, "x86_64", f"{KERNEL}.src", "kernel-debuginfo-0:6.8.5-301.fc40.x86_64", "debug"),
    (EV, "aarch64", f"{BASH}.src", f"{BASH}.aarch64", "binary"),
    (SV, "x86_64", f"{OPENSSL}.src", "openssl-libs-1:3.2.1-2.fc40.x86_64", "binary"),
    (SV, "x86_64", f"{OPENSSL}.src", f"{OPENSSL}.src", "source"),
    (SV, "x86_64", "bash-0:5.2.26-1.fc40.src", "bash-0:5.2.26-1.fc40.x86_64", "binary"),  # older
    (SV, "aarch64", f"{OPENSSL}.src", "openssl-libs-1:3.2.1-2.fc40.aarch64", "binary"),
]


def rpms_json(rows: list[tuple[str, str, str, str, str]]) -> dict[str, Any]:
    """A productmd rpms.json document, as pungi writes it, with these rows."""
    tree: dict[str, Any] = {}
    for variant, arch, srpm, rpm, category in rows:
        name = rpm.split(":")[0].rsplit("-", 1)[0]
        path = f"{variant}/{arch}/os/Packages/{name[0]}/{rpm}.rpm"
        entry = {"path": path, "sigkey": "a15b79cc", "category": category}
        tree.setdefault(variant, {}).setdefault(arch, {}).setdefault(srpm, {})[rpm] = entry
    compose = {"id": "Fedora-40-20240410.0", "date": "20240410", "respin": 0, "type": "production"}
    return {"header": {"type": "productmd.rpms", "version": "1.2"},
            "payload": {"compose": compose, "rpms": tree}}  # fmt: skip


RPMS_JSON = rpms_json(ROWS)


def test_rpms_json_everything() -> None:
    got = parse_rpms_json(RPMS_JSON)
    assert got.packages == {
        "bash": "bash-5.2.26-3.fc40",  # the newer of the two builds
        "glibc": "glibc-2.39-2.fc40",
        "openssl": "openssl-3.2.1-2.fc40",
    }
    assert got.rpms == (
        "bash-0:5.2.26-1.fc40.x86_64",
        "bash-0:5.2.26-3.fc40.aarch64",
        "bash-0:5.2.26-3.fc40.x86_64",
        "glibc-0:2.39-2.fc40.i686",
        "glibc-0:2.39-2.fc40.x86_64",
        "glibc-common-0:2.39-2.fc40.x86_64",
        "openssl-libs-1:3.2.1-2.fc40.aarch64",
        "openssl-libs-1:3.2.1-2.fc40.x86_64",
    )
    assert not got.missing and not got.problems


def test_rpms_json_filters() -> None:
    server = parse_rpms_json(RPMS_JSON, variant="Server")
    assert server.packages == {"bash": "bash-5.2.26-1.fc40", "openssl": "openssl-3.2.1-2.fc40"}
    aarch = parse_rpms_json(RPMS_JSON, arch="aarch64")
    assert aarch.rpms == ("bash-0:5.2.26-3.fc40.aarch64", "openssl-libs-1:3.2.1-2.fc40.aarch64")
    both = parse_rpms_json(RPMS_JSON, variant="Everything", arch="aarch64")
    assert both == Manifest({"bash": "bash-5.2.26-3.fc40"}, ("bash-0:5.2.26-3.fc40.aarch64",))
    with pytest.raises(ManifestError, match="Workstation"):
        parse_rpms_json(RPMS_JSON, variant="Workstation")
    with pytest.raises(ManifestError, match="s390x"):
        parse_rpms_json(RPMS_JSON, arch="s390x")


def test_rpms_json_from_file_and_url(workdir: Path, http_base: str) -> None:
    path = workdir / "compose" / "metadata" / "rpms.json"
    assert parse_rpms_json(path) == parse_rpms_json(RPMS_JSON)
    assert parse_rpms_json(str(path), variant="Server") == parse_rpms_json(
        RPMS_JSON, variant="Server"
    )
    url = f"{http_base}/compose/metadata/rpms.json"
    assert parse_rpms_json(url, timeout=10) == parse_rpms_json(RPMS_JSON)
    with pytest.raises(ManifestError, match="404"):
        parse_rpms_json(f"{http_base}/compose/metadata/nope.json")


def test_rpms_json_errors(tmp_path: Path) -> None:
    wrong = {"header": {"type": "productmd.images", "version": "1.2"}, "payload": {}}
    with pytest.raises(ManifestError, match=r"productmd\.images"):
        parse_rpms_json(wrong)
    with pytest.raises(ManifestError, match=r"payload\.rpms"):
        parse_rpms_json({"header": {"type": "productmd.rpms", "version": "1.2"}})
    broken = tmp_path / "rpms.json"
    broken.write_text("{not json")
    with pytest.raises(ManifestError, match=r"rpms\.json"):
        parse_rpms_json(broken)
    with pytest.raises(ManifestError, match=r"absent\.json"):
        parse_rpms_json(tmp_path / "absent.json")


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [("1.0", "1.0", 0), ("1.10", "1.9", 1), ("1.0", "1.0a", -1), ("1.0~rc1", "1.0", -1),
     ("1.0^git1", "1.0", 1), ("1.0^git1", "1.0.1", -1), ("2a", "2.0", -1), ("fc40", "fc39", 1)],
)  # fmt: skip
def test_vercmp(a: str, b: str, want: int) -> None:
    assert vercmp(a, b) == want
    assert vercmp(b, a) == -want


def productmd_rpms(rows: list[tuple[str, str, str, str, str]]) -> Any:
    """The same rows written by productmd itself (``productmd.rpms.Rpms``, what pungi uses)."""
    from productmd.rpms import Rpms

    made = Rpms()
    made.compose.id, made.compose.type = "Fedora-40-20240410.0", "production"
    made.compose.date, made.compose.respin = "20240410", 0
    for variant, arch, srpm, rpm, category in rows:
        name = rpm.split(":")[0].rsplit("-", 1)[0]
        path = f"{variant}/{arch}/os/Packages/{name[0]}/{rpm}.rpm"
        made.add(variant, arch, rpm, path, "A15B79CC", category,
                 None if category == "source" else srpm)  # fmt: skip
    return made


def test_rpms_json_written_by_productmd(tmp_path: Path) -> None:
    path = tmp_path / "rpms.json"
    productmd_rpms(ROWS).dump(str(path))
    assert json.loads(path.read_text())["header"]["type"] == "productmd.rpms"
    assert parse_rpms_json(path) == parse_rpms_json(RPMS_JSON)
    assert parse_rpms_json(path, variant="Server", arch="aarch64") == parse_rpms_json(
        RPMS_JSON, variant="Server", arch="aarch64"
    )
    assert parse_rpms_json(path).packages["bash"] == "bash-5.2.26-3.fc40"  # the newer one


def test_rpms_json_validated_as_productmd_does() -> None:
    def broken(change: dict[str, Any]) -> dict[str, Any]:
        data = rpms_json(ROWS)
        entry = data["payload"]["rpms"][EV]["x86_64"][f"{BASH}.src"][f"{BASH}.x86_64"]
        entry.update(change)
        return data

    with pytest.raises(ManifestError, match=r"Everything/x86_64/bash-0:.*category.*weird"):
        parse_rpms_json(broken({"category": "weird"}))
    with pytest.raises(ManifestError, match=r"Relative path expected"):
        parse_rpms_json(broken({"path": "/abs/bash.rpm"}))
    with pytest.raises(ManifestError, match=r"missing 'sigkey'"):
        parse_rpms_json(_without(ROWS, "sigkey"))
    # An rpm outside the variant asked for is not read, so not judged.
    assert parse_rpms_json(broken({"category": "weird"}), variant="Server").packages
    no_compose = rpms_json(ROWS)
    del no_compose["payload"]["compose"]
    with pytest.raises(ManifestError, match=r"not a valid productmd rpms\.json: missing 'compose'"):
        parse_rpms_json(no_compose)
    no_epoch = rpms_json([(EV, "x86_64", f"{BASH}.src", "bash-5.2.26-3.fc40.x86_64", "binary")])
    with pytest.raises(ManifestError, match=r"Missing epoch"):
        parse_rpms_json(no_epoch)


def _without(rows: list[tuple[str, str, str, str, str]], key: str) -> dict[str, Any]:
    data = rpms_json(rows)
    for arches in data["payload"]["rpms"].values():
        for srpms in arches.values():
            for binaries in srpms.values():
                for info in binaries.values():
                    info.pop(key)
    return data


def test_rpms_json_of_the_older_layout() -> None:
    """productmd 0.3 (``payload.manifest``, sources under arch ``src``), as productmd
    converts it (``productmd/rpms.py`` ``deserialize_0_3``)."""
    bash_path = {"path": "Everything/source/SRPMS/b/bash.src.rpm", "sigkey": None}
    old = {
        "header": {"version": "0.3"},
        "payload": {
            "compose": {"id": "Fedora-40-20240410.0", "date": "20240410", "respin": 0,
                        "type": "production"},
            "manifest": {EV: {
                "x86_64": {f"{BASH}.src": {f"{BASH}.x86_64": {
                    "type": "package", "path": "Everything/x86_64/os/b/bash.rpm",
                    "sigkey": None}}},
                "src": {f"{BASH}.src": bash_path},
            }},
        },
    }  # fmt: skip
    got = parse_rpms_json(old)
    assert got.packages == {"bash": "bash-5.2.26-3.fc40"}
    assert got.rpms == (f"{BASH}.x86_64",)
