"""Package closures with libsolv: load a distribution-sized primary.xml, depsolve artifacts.

    python bench/graph_solv.py [--packages 60000] [--artifacts 500] [--seed 1]

Generates a synthetic primary.xml.gz shaped like a Fedora one: N binary packages from
about N/3 sources, each requiring 0-6 others by name, by a soname-style provide, by a
file (``/usr/bin/...``) or with a version (``>=``). Requires lean towards "lower"
packages (index j < i, skewed to small j) so that a few core packages are required by
almost everything, as glibc is. Then times ``RepoMetadata.load`` on it, and the closures
of artifacts (images) defined by 20-200 top-level packages each. Last line: JSON.
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from relengotron.adapters.artifacts.manifests import RepoMetadata

_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<metadata xmlns="http://linux.duke.edu/metadata/common" '
    'xmlns:rpm="http://linux.duke.edu/metadata/rpm" packages="{n}">\n'
)


def _entry(dep: tuple[str, str | None]) -> str:
    name, ver = dep
    if ver is None:
        return f'<rpm:entry name="{name}"/>'
    return f'<rpm:entry name="{name}" flags="GE" epoch="0" ver="{ver}"/>'


def write_primary(path: Path, n_packages: int, seed: int) -> list[str]:
    """Write the synthetic primary.xml.gz; the binary package names, in order."""
    rng = random.Random(seed)
    n_sources = max(1, n_packages // 3)
    # source k: a name and a version; binaries are assigned to sources in runs of 1-6
    src_of = sorted(rng.randrange(n_sources) for _ in range(n_packages))
    src_ver = [f"{rng.randint(0, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 9)}"
               for _ in range(n_sources)]  # fmt: skip
    src_rel = [f"{rng.randint(1, 20)}.fc41" for _ in range(n_sources)]
    names, soname, binfile = [], [], []
    seen: dict[int, int] = {}
    for i in range(n_packages):
        k = src_of[i]
        seen[k] = seen.get(k, 0) + 1
        suffix = ("", "-libs", "-devel", "-common", "-tools", "-doc", "-data")[min(seen[k] - 1, 6)]
        names.append(f"pkg{k:05d}{suffix}" + (str(seen[k]) if seen[k] > 7 else ""))
        soname.append(f"libp{i}.so.{rng.randint(0, 3)}()(64bit)" if rng.random() < 0.3 else None)
        binfile.append(f"/usr/bin/{names[i]}" if rng.random() < 0.2 else None)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=6) as out:
        out.write(_HEAD.format(n=n_packages))
        for i in range(n_packages):
            out.write(_package(i, rng, names, soname, binfile, src_of, (src_ver, src_rel)))
        out.write("</metadata>\n")
    return names


def _package(
    i: int,
    rng: random.Random,
    names: list[str],
    soname: list[str | None],
    binfile: list[str | None],
    src_of: list[int],
    src_evr: tuple[list[str], list[str]],
) -> str:
    k = src_of[i]
    src_ver = src_evr[0]
    name, ver, rel = names[i], src_ver[k], src_evr[1][k]
    arch = "noarch" if rng.random() < 0.25 else "x86_64"
    requires: dict[str, str | None] = {}
    for _ in range(rng.randint(0, 6) if i else 0):
        j = int(i * rng.random() ** 3)  # mostly low: core packages are everyone's deps
        if src_of[j] == k and j != i:
            requires[names[j]] = src_ver[k]  # subpackages pin their siblings' version
            continue
        how = rng.random()
        if how < 0.4 and soname[j]:
            requires[soname[j] or ""] = None
        elif how < 0.5 and binfile[j]:
            requires[binfile[j] or ""] = None
        elif how < 0.6:
            requires[names[j]] = src_ver[src_of[j]].rsplit(".", 1)[0]
        elif j != i:
            requires[names[j]] = None
    provides = [f'<rpm:entry name="{name}" flags="EQ" epoch="0" ver="{ver}" rel="{rel}"/>']
    if soname[i]:
        provides.append(f'<rpm:entry name="{soname[i]}"/>')
    files = f"<file>{binfile[i]}</file>" if binfile[i] else ""
    reqs = "".join(_entry(dep) for dep in requires.items())
    return (
        f'<package type="rpm"><name>{name}</name><arch>{arch}</arch>'
        f'<version epoch="0" ver="{ver}" rel="{rel}"/>'
        f'<checksum type="sha256" pkgid="YES">{rng.getrandbits(256):064x}</checksum>'
        f"<summary>The {name} package</summary><description>Synthetic.</description>"
        f"<packager>Fedora Project</packager><url>https://example.org/{name}</url>"
        f'<time file="1700000000" build="1700000000"/>'
        f'<size package="{rng.randint(10**4, 10**7)}" installed="0" archive="0"/>'
        f'<location href="Packages/{name[0]}/{name}-{ver}-{rel}.{arch}.rpm"/>'
        f"<format><rpm:license>MIT</rpm:license><rpm:vendor>Fedora Project</rpm:vendor>"
        f"<rpm:group>Unspecified</rpm:group><rpm:buildhost>buildhw</rpm:buildhost>"
        f"<rpm:sourcerpm>pkg{k:05d}-{ver}-{rel}.src.rpm</rpm:sourcerpm>"
        f'<rpm:header-range start="4504" end="9000"/>'
        f"<rpm:provides>{''.join(provides)}</rpm:provides>"
        f"<rpm:requires>{reqs}</rpm:requires>{files}</format></package>\n"
    )


def bench_solv(
    n_packages: int = 60000, n_artifacts: int = 500, seed: int = 1, workdir: Path | None = None
) -> dict[str, float]:
    """Time loading a synthetic repository and computing the closures of artifacts."""
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        primary = Path(tmp) / "primary.xml.gz"
        t0 = time.perf_counter()
        names = write_primary(primary, n_packages, seed)
        gen = time.perf_counter() - t0
        t0 = time.perf_counter()
        meta = RepoMetadata.load(primary)
        load = time.perf_counter() - t0
        size_mb = primary.stat().st_size / 1e6
    rng = random.Random(seed + 1)
    defs = {f"image-{a}": rng.sample(names, rng.randint(20, 200)) for a in range(n_artifacts)}
    t0 = time.perf_counter()
    manifests = meta.closures(defs)
    closures = time.perf_counter() - t0
    sizes = [len(m.rpms) for m in manifests.values()]
    unsolved = sum(1 for m in manifests.values() if m.problems or m.missing)
    print(f"generated:       {n_packages:,} packages, {size_mb:.1f} MB gz in {gen:.1f} s")
    print(f"load:            {load:.2f} s ({meta.count:,} solvables)")
    print(f"closures:        {n_artifacts} artifacts in {closures:.2f} s "
          f"({1000 * closures / max(1, n_artifacts):.1f} ms each)")  # fmt: skip
    print(f"closure size:    mean {sum(sizes) / max(1, len(sizes)):,.0f} rpms "
          f"(min {min(sizes, default=0):,}, max {max(sizes, default=0):,}); "
          f"{unsolved} with problems")  # fmt: skip
    return {
        "packages": float(meta.count),
        "load_s": round(load, 3),
        "closures_s": round(closures, 3),
        "closure_mean_size": round(sum(sizes) / max(1, len(sizes)), 1),
        "artifacts": float(n_artifacts),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--packages", type=int, default=60000)
    ap.add_argument("--artifacts", type=int, default=500)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    print(json.dumps(bench_solv(args.packages, args.artifacts, args.seed)))


if __name__ == "__main__":
    main()
