"""rpm's version order comes from libsolv (``adapters.artifacts.manifests.Versions``); checked here
equal, on every pair of versions, releases and EVRs of the NVRs in the real corpus and on
generated tricky cases (tildes, carets, epochs, letters against digits), to

* ``reference_vercmp``: the comparison we wrote before using libsolv's, kept only here as
  an independent reading of rpm's ``rpmvercmp`` (rpm's ``rpmio/rpmvercmp.c``);
* rpm itself, when the ``rpm`` command is installed (the Makefile installs it): its Lua
  ``rpm.vercmp``, which parses ``[epoch:]version[-release]`` as rpm does (rpm >= 4.16).
"""

from __future__ import annotations

import itertools
import json
import random
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from relengotron.adapters.artifacts.manifests import Versions, vercmp

_SEGMENT = re.compile(r"[~^]|[0-9]+|[a-zA-Z]+")
_NVR = re.compile(r"^([A-Za-z][A-Za-z0-9._+-]*)-(?:(\d+):)?([^-:/\s]+)-([^-:/\s]+)$")
_SUFFIX = re.compile(r"\.(src\.rpm|rpm|src|noarch|x86_64|i686|aarch64|ppc64le|s390x)$")


def reference_vercmp(a: str, b: str) -> int:
    """Our former rpmvercmp (versions or releases only): -1, 0 or 1."""
    if a == b:
        return 0
    one, two = _SEGMENT.findall(a), _SEGMENT.findall(b)
    for x, y in zip(one, two, strict=False):
        if x == y:
            continue
        for mark in "~^":  # '~' sorts before anything; '^' before anything but the end
            if x == mark or y == mark:
                return -1 if x == mark else 1
        if x.isdigit() != y.isdigit():
            return 1 if x.isdigit() else -1
        if x.isdigit():
            xi, yi = int(x), int(y)
            return (xi > yi) - (xi < yi)
        return (x > y) - (x < y)
    rest_a, rest_b = one[len(two) :], two[len(one) :]
    if not rest_a and not rest_b:
        return 0
    if rest_a:
        return -1 if rest_a[0] == "~" else 1
    return 1 if rest_b[0] == "~" else -1


def reference_evrcmp(a: tuple[str, str, str], b: tuple[str, str, str]) -> int:
    """(epoch, version, release) the way rpm orders them, from ``reference_vercmp``."""
    ea, eb = int(a[0] or 0), int(b[0] or 0)
    if ea != eb:
        return (ea > eb) - (ea < eb)
    return reference_vercmp(a[1], b[1]) or reference_vercmp(a[2], b[2])


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, str):
        yield from re.split(r"[\s,;\"'()\[\]<>]+", value)


def corpus_evrs(corpus_dir: Path) -> list[tuple[str, str, str]]:
    """(epoch, version, release) of every NVR-looking word in the real corpus."""
    found: set[tuple[str, str, str]] = set()
    for path in sorted((corpus_dir / "real").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            if not line.strip():
                continue
            for word in _strings(json.loads(line)):
                m = _NVR.match(_SUFFIX.sub("", word))
                if m and any(c.isdigit() for c in m[3]):
                    found.add((m[2] or "", m[3], m[4]))
    return sorted(found)


def tricky() -> list[str]:
    """Hand-picked and generated (seeded) versions around rpm's corner cases."""
    hand = ["1.0", "1.0.0", "1.0~rc1", "1.0~rc2", "1.0~~", "1.0^", "1.0^git1", "1.0^git1~1",
            "1.0.1", "1.0a", "1.0.a", "1a", "a1", "2.0", "2a", "2", "10", "9", "010", "10.0",
            "1.0_1", "1..0", "1.0+b", "fc40", "fc39", "el9_4", "el9", "1.fc40", "1.fc40.1",
            "0.1.rc1.fc40", "1~", "~", "^", "1^", "1^1", "1~1", "abc", "ABC", "1.0Z"]  # fmt: skip
    rng = random.Random(17)
    alphabet = "0123456789ab~^._"
    made = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 6))) for _ in range(120)}
    return hand + sorted(made - set(hand))


def test_the_corpus_has_nvrs(corpus_dir: Path) -> None:
    evrs = corpus_evrs(corpus_dir)
    assert len(evrs) >= 100, len(evrs)  # the comparisons below are over real data


@pytest.fixture(scope="module")
def pairs(corpus_dir: Path) -> dict[str, list[tuple[str, str]]]:
    evrs = corpus_evrs(corpus_dir)
    versions = sorted({v for _, v, _ in evrs} | set(tricky()))
    releases = sorted({r for _, _, r in evrs})
    by_evr = sorted({f"{e + ':' if e else ''}{v}-{r}" for e, v, r in evrs})
    by_evr += [f"{e}:{v}-1" for e in ("", "0", "1", "2") for v in ("1.0", "1.0~rc1", "1.0^g")]
    by_evr = sorted({x.lstrip(":") for x in by_evr})
    return {
        "versions": list(itertools.combinations(versions, 2)),
        "releases": list(itertools.combinations(releases, 2)),
        "evrs": list(itertools.combinations(by_evr, 2)),
    }


def _split(evr: str) -> tuple[str, str, str]:
    epoch, _, rest = evr.rpartition(":")
    version, _, release = rest.rpartition("-")
    return epoch, version, release


def _leading_zero_tie(a: str, b: str) -> bool:
    """Our former comparison's one mistake: equal numbers written differently ("04", "4")
    ended it as a tie, where rpm goes on to the next segment."""
    for x, y in zip(_SEGMENT.findall(a), _SEGMENT.findall(b), strict=False):
        if x != y:
            return x.isdigit() and y.isdigit() and int(x) == int(y)
    return False


def test_libsolv_equals_our_former_comparison(pairs: dict[str, list[tuple[str, str]]]) -> None:
    """Equal on every pair but those of the former's leading-zero mistake, where libsolv
    says what rpm says (``test_libsolv_equals_rpm``)."""
    order = Versions()
    for kind in ("versions", "releases"):
        differ = [(a, b) for a, b in pairs[kind]
                  if order.compare(a, b) != reference_vercmp(a, b)]  # fmt: skip
        assert all(reference_vercmp(a, b) == 0 and _leading_zero_tie(a, b) for a, b in differ)
        assert len(differ) < len(pairs[kind]) / 100, (kind, differ[:10])
    differ = [(a, b) for a, b in pairs["evrs"]
              if order.compare(a, b) != reference_evrcmp(_split(a), _split(b))]  # fmt: skip
    for a, b in differ:
        (_, va, ra), (_, vb, rb) = _split(a), _split(b)
        assert _leading_zero_tie(va, vb) or _leading_zero_tie(ra, rb), (a, b)
    assert len(pairs["versions"]) > 10_000


@pytest.mark.skipif(shutil.which("rpm") is None, reason="rpm is not installed")
def test_libsolv_equals_rpm(pairs: dict[str, list[tuple[str, str]]], tmp_path: Path) -> None:
    everything = [p for kind in ("versions", "releases", "evrs") for p in pairs[kind]]
    script = tmp_path / "cmp.lua"
    lines = ["local out = {}"]
    lines += [f"out[#out+1] = rpm.vercmp({json.dumps(a)}, {json.dumps(b)})" for a, b in everything]
    lines.append('print(table.concat(out, " "))')
    script.write_text("\n".join(lines))
    run = subprocess.run(["rpm", "--eval", f'%{{lua: dofile("{script}")}}'],
                         capture_output=True, text=True, check=True, timeout=120)  # fmt: skip
    got = [max(-1, min(1, int(x))) for x in run.stdout.split()]
    assert len(got) == len(everything)
    order = Versions()
    wrong = [(a, b, want) for (a, b), want in zip(everything, got, strict=True)
             if order.compare(a, b) != want]  # fmt: skip
    assert not wrong, wrong[:10]


@pytest.mark.parametrize(
    ("a", "b", "want"),
    [("1.0", "1.0", 0), ("1.10", "1.9", 1), ("1.0", "1.0a", -1), ("1.0~rc1", "1.0", -1),
     ("1.0^git1", "1.0", 1), ("1.0^git1", "1.0.1", -1), ("2a", "2.0", -1), ("fc40", "fc39", 1),
     ("1:1.0-1", "2.0-1", 1), ("0:1.0-1", "1.0-1", 0), ("1.0-1.fc40", "1.0-1.fc40.1", -1),
     # our former comparison said 0 (a tie) to these; rpm goes on past "04" == "4"
     ("04", "4.1.1", -1), ("0.007", "0.7.0", -1), ("010", "10.0", -1), ("04", "4~3", 1)],
)  # fmt: skip
def test_vercmp(a: str, b: str, want: int) -> None:
    assert vercmp(a, b) == want
    assert vercmp(b, a) == -want
