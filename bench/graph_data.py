"""The synthetic distribution ``bench/graph.py`` builds its graph from: packages named
like Fedora's (a core in nearly every artifact), repositories, OSTrees and images in
three levels with skewed manifests, and batches of changed builds."""

from __future__ import annotations

import bisect
import itertools
import random
from dataclasses import dataclass

from relengotron.projections.folds.graph import ArtifactNode, BuildChange

_CORE_NAMES = """
glibc bash coreutils filesystem setup systemd ncurses zlib openssl xz bzip2 libgcc
libstdc++ pcre2 libselinux libsepol audit-libs shadow-utils util-linux pam libcap libacl
libattr sed grep gawk findutils tar gzip rpm dnf dnf-data python3 python3-libs sqlite
libxml2 curl libcurl krb5 e2fsprogs glib2 dbus kmod cryptsetup lvm2 libffi gmp mpfr
readline expat elfutils libxcrypt nss ca-certificates crypto-policies tzdata basesystem
fedora-release fedora-repos json-c libyaml lua-libs zstd lz4
"""
CORE = _CORE_NAMES.split()  # in nearly every artifact


@dataclass
class Distribution:
    packages: list[str]
    nvrs: list[str]  # current NVR, by package index
    older: list[str]  # the release before, by package index
    include_cum: list[float]  # cumulative inclusion weights (for manifests)
    update_cum: list[float]  # cumulative update weights (for change batches)
    nodes: list[ArtifactNode]
    manifests: dict[str, dict[str, str | None]]
    repos: list[ArtifactNode]
    repo_weights: list[float]  # rawhide first: most artifacts and most builds


def generate(n_packages: int, n_artifacts: int, rng: random.Random) -> Distribution:
    n_core = min(len(CORE), n_packages)
    packages = CORE[:n_core] + [f"pkg{i:05d}" for i in range(n_packages - n_core)]
    nvrs, older = [], []
    for name in packages:
        major, minor, rel = rng.randrange(1, 40), rng.randrange(30), rng.randrange(2, 20)
        nvrs.append(f"{name}-{major}.{minor}-{rel}.fc43")
        older.append(f"{name}-{major}.{minor}-{rel - 1}.fc43")
    # Inclusion: the core nearly always (its own loop below), then a Zipf-like tail.
    include = [0.0] * n_core + [1.0 / (r + 20) ** 1.1 for r in range(n_packages - n_core)]
    include_cum = list(itertools.accumulate(include))
    # Updates: every package can be updated; the core somewhat more often, but the
    # long tail makes up most of a batch.
    update = [1.0 / (r + 200) ** 0.5 for r in range(n_packages)]
    update_cum = list(itertools.accumulate(update))

    n_repos = max(1, round(n_artifacts * 0.04))
    n_level2 = max(1, round(n_artifacts * 0.66))
    n_level3 = max(0, n_artifacts - n_repos - n_level2)

    def manifest(size: int, core: bool = True) -> dict[str, str | None]:
        chosen = {i for i in range(n_core) if rng.random() < 0.97} if core else set()
        size = min(size, n_packages - n_core + len(chosen))
        while len(chosen) < size:
            # Zero-weight (core) packages are never drawn here.
            for x in rng.choices(range(n_packages), cum_weights=include_cum, k=size - len(chosen)):
                chosen.add(x)
        out: dict[str, str | None] = {}
        for i in chosen:
            roll = rng.random()
            out[packages[i]] = older[i] if roll < 0.05 else (None if roll < 0.06 else nvrs[i])
        return out

    nodes: list[ArtifactNode] = []
    manifests: dict[str, dict[str, str | None]] = {}
    repos = []
    for r in range(n_repos):
        name = "rawhide" if r == 0 else f"f{44 - r}" if r < 8 else f"copr{r:02d}"
        repo = ArtifactNode(
            name,
            "repository",
            tags=(f"{name}-build", f"{name}-updates-candidate", f"{name}-updates"),
            propagates=False,
            contains_tags=True,
        )
        repos.append(repo)
        nodes.append(repo)
    # Rawhide and the newest releases feed most artifacts (and take most builds).
    repo_weights = [1.0 / (r + 1) ** 1.3 for r in range(n_repos)]
    level2 = []
    kinds = ("ostree", "container", "live", "cloud-image")
    for i in range(n_level2):
        kind = kinds[i % len(kinds)]
        name = f"{kind}-{i:03d}"
        repo = rng.choices(repos, weights=repo_weights)[0]
        nodes.append(ArtifactNode(name, kind, parents=((repo.name, "composed_from"),)))
        # Sizes skewed to the small end: minimal containers outnumber workstation lives.
        manifests[name] = manifest(int(1000 + 4000 * rng.random() ** 2))
        level2.append(name)
    kinds3 = ("qcow2", "raw", "vagrant", "layered-container", "iso")
    for i in range(n_level3):
        parent = rng.choice(level2)
        kind = kinds3[i % len(kinds3)]
        name = f"{kind}-{i:03d}"
        nodes.append(ArtifactNode(name, kind, parents=((parent, "built_from"),)))
        extra = manifest(rng.randrange(20, 200), core=False)
        manifests[name] = {**manifests[parent], **extra}
    return Distribution(
        packages, nvrs, older, include_cum, update_cum, nodes, manifests, repos, repo_weights
    )


def change_batches(
    dist: Distribution, size: int, count: int, rng: random.Random, *, untagged: bool = False
) -> list[list[BuildChange]]:
    n = len(dist.packages)
    batches = []
    for _ in range(count):
        repo = rng.choices(dist.repos, weights=dist.repo_weights)[0]
        tag = None if untagged else repo.tags[rng.randrange(len(repo.tags))]
        chosen: dict[int, None] = {}
        while len(chosen) < min(size, n):
            x = bisect.bisect_left(dist.update_cum, rng.random() * dist.update_cum[-1])
            chosen[min(x, n - 1)] = None
        batch = []
        for i in chosen:
            name = dist.packages[i]
            nvr = dist.nvrs[i].removesuffix(".fc43") + f".{rng.randrange(1000)}.fc43"
            batch.append(BuildChange(nvr, name, tag))
        batches.append(batch)
    return batches
