"""The artifact dependency graph (projections/folds/graph.py): which artifacts changed builds
affect, why, and in what order; plus a property test against a brute-force reference."""

from __future__ import annotations

import heapq
import shutil
import subprocess
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from relengotron.projections.folds.graph import (
    Affected,
    ArtifactGraph,
    ArtifactNode,
    BuildChange,
    explain,
)

BASH_OLD = "bash-5.2.37-1.fc43"
BASH_NEW = "bash-5.2.37-2.fc43"
GLIBC_OLD = "glibc-2.41-1.fc43"
GLIBC_NEW = "glibc-2.41-2.fc43"


def fedora() -> ArtifactGraph:
    """Two repositories; an OSTree chain (ostree -> qcow2 -> vagrant box); a base
    container with a layered child; a live image with an unknown NVR."""
    g = ArtifactGraph()
    g.define(
        ArtifactNode(
            "rawhide",
            "repository",
            tags=("f43", "f43-build"),
            propagates=False,
            contains_tags=True,
        )
    )
    g.define(
        ArtifactNode(
            "f42-updates",
            "repository",
            tags=("f42-updates",),
            propagates=False,
            contains_tags=True,
        )
    )
    g.define(ArtifactNode("silverblue", "ostree", parents=(("rawhide", "composed_from"),)))
    g.define(ArtifactNode("silverblue-qcow2", "qcow2", parents=(("silverblue", "built_from"),)))
    g.define(
        ArtifactNode("silverblue-vagrant", "vagrant", parents=(("silverblue-qcow2", "built_from"),))
    )
    g.define(ArtifactNode("base", "container", parents=(("rawhide", "composed_from"),)))
    g.define(ArtifactNode("httpd", "container", parents=(("base", "built_from"),)))
    g.define(ArtifactNode("workstation-live", "live", parents=(("rawhide", "composed_from"),)))
    g.set_manifest(
        "silverblue",
        {"bash": BASH_OLD, "glibc": GLIBC_OLD, "ostree": "ostree-2025.1-1.fc43"},
        "koji",
    )
    g.set_manifest("silverblue-qcow2", {"grub2": "grub2-2.12-10.fc43"}, "koji")
    g.set_manifest("silverblue-vagrant", {"vagrant-guest": "vagrant-guest-1-1.fc43"}, "koji")
    g.set_manifest("base", {"glibc": GLIBC_OLD, "coreutils": "coreutils-9.6-1.fc43"}, "registry")
    g.set_manifest("httpd", {"httpd": "httpd-2.4.63-1.fc43"}, "registry")
    g.set_manifest("workstation-live", {"firefox": None, "bash": BASH_OLD}, "kickstart")
    return g


def names(result: Iterable[Affected]) -> list[str]:
    return [a.artifact for a in result]


def by_name(result: Iterable[Affected]) -> dict[str, Affected]:
    return {a.artifact: a for a in result}


# ---------------------------------------------------------------- manifests
# Every artifact of fedora() but the repositories draws from rawhide, so a build must
# go into one of rawhide's tags (here F43) to reach their manifests.

F43 = "f43"


def test_same_nvr_changes_nothing() -> None:
    g = fedora()
    assert g.affected([BuildChange(BASH_OLD, "bash", "elsewhere")]) == []
    assert names(g.affected([BuildChange(BASH_OLD, "bash", F43)])) == ["rawhide"]


def test_new_nvr_affects_every_manifest_holding_the_package_and_what_carries_them() -> None:
    g = fedora()
    out = g.affected([BuildChange(BASH_NEW, "bash", F43)])
    assert names(out) == [
        "rawhide",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
        "workstation-live",
    ]
    sb = by_name(out)["silverblue"]
    assert sb.kind == "ostree"
    assert sb.changes == ({"nvr": BASH_NEW, "package": "bash", "was": BASH_OLD},)
    assert sb.reasons == (
        {
            "type": "manifest",
            "artifact": "silverblue",
            "package": "bash",
            "nvr": BASH_NEW,
            "was": BASH_OLD,
            "source": "koji",
        },
    )
    assert sb.waits_for == ("rawhide",)
    assert explain(sb.reasons) == [
        f"bash {BASH_NEW} is in the manifest of silverblue (has {BASH_OLD}) [koji]"
    ]


def test_artifact_drawing_from_no_repository_takes_any_build() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("toolbox", "container"))
    g.set_manifest("toolbox", {"bash": BASH_OLD}, "registry")
    for tag in (None, "f43", "anything"):
        [a] = g.affected([BuildChange(BASH_NEW, "bash", tag)])
        assert a.artifact == "toolbox"
        assert a.waits_for == ()
    assert g.affected([BuildChange(BASH_NEW, "bash")], repositories=[]) != []


def test_package_in_no_manifest_and_no_tag_affects_nothing() -> None:
    g = fedora()
    assert g.affected([BuildChange("nano-8.3-1.fc43", "nano", "elsewhere")]) == []


def test_unknown_nvr_in_a_manifest_is_affected_by_any_build() -> None:
    g = fedora()
    out = by_name(g.affected([BuildChange("firefox-137.0-1.fc43", "firefox", F43)]))
    assert list(out) == ["rawhide", "workstation-live"]
    live = out["workstation-live"]
    assert live.changes == ({"nvr": "firefox-137.0-1.fc43", "package": "firefox", "was": None},)
    assert live.reasons[0]["was"] is None
    assert live.reasons[0]["source"] == "kickstart"
    # No "(has ...)" when the NVR in the manifest is unknown.
    assert explain(live.reasons) == [
        "firefox firefox-137.0-1.fc43 is in the manifest of workstation-live [kickstart]"
    ]


def test_manifest_source_defaults_to_definition_when_missing() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("x", "ostree"))
    g.set_manifest("x", {"bash": BASH_OLD}, "koji")
    del g.sources["x"]
    [a] = g.affected([BuildChange(BASH_NEW, "bash")])
    assert a.reasons[0]["source"] == "definition"


def test_one_build_affecting_several_things_and_two_builds_one_artifact() -> None:
    g = fedora()
    out = by_name(
        g.affected([BuildChange(BASH_NEW, "bash", F43), BuildChange(GLIBC_NEW, "glibc", F43)])
    )
    assert [r["package"] for r in out["silverblue"].reasons] == ["bash", "glibc"]
    assert [c["nvr"] for c in out["silverblue"].changes] == [BASH_NEW, GLIBC_NEW]
    assert [r["nvr"] for r in out["rawhide"].reasons] == [BASH_NEW, GLIBC_NEW]
    assert set(out) == {
        "rawhide",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
        "workstation-live",
        "base",
        "httpd",
    }


# ---------------------------------------------------------------- reaching manifests


def test_build_that_misses_the_repository_an_artifact_draws_from_does_not_affect_it() -> None:
    g = fedora()
    for tag in ("elsewhere", "f42-updates"):
        out = names(g.affected([BuildChange(BASH_NEW, "bash", tag)]))
        assert not {"silverblue", "workstation-live"} & set(out)
    # Through parents too: the qcow2 draws from rawhide by way of silverblue.
    assert g.repositories_of("silverblue-qcow2") == frozenset({"rawhide"})
    out = names(g.affected([BuildChange("grub2-2.12-11.fc43", "grub2", "f42-updates")]))
    assert out == ["f42-updates"]
    assert "silverblue-qcow2" in names(
        g.affected([BuildChange("grub2-2.12-11.fc43", "grub2", "f43-build")])
    )


def test_build_of_unknown_tag_reaches_every_repository_and_so_every_manifest() -> None:
    g = fedora()
    out = names(g.affected([BuildChange(BASH_NEW, "bash", None)]))
    assert out == [
        "f42-updates",
        "rawhide",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
        "workstation-live",
    ]


def test_push_reaches_the_manifests_of_its_repositories_only() -> None:
    g = fedora()
    change = BuildChange(BASH_NEW, "bash", "f42-updates")  # the tag is not looked at
    assert "silverblue" in names(g.affected([change], repositories=["rawhide"]))
    assert names(g.affected([change], repositories=["f42-updates"])) == ["f42-updates"]
    assert g.affected([change], repositories=[]) == []


def test_artifact_drawing_from_two_repositories_takes_a_build_of_either() -> None:
    g = fedora()
    g.define(
        ArtifactNode(
            "spin",
            "live",
            parents=(("rawhide", "composed_from"), ("f42-updates", "composed_from")),
        )
    )
    g.set_manifest("spin", {"bash": BASH_OLD}, "kickstart")
    assert g.repositories_of("spin") == frozenset({"rawhide", "f42-updates"})
    for tag in ("f43", "f42-updates"):
        out = by_name(g.affected([BuildChange(BASH_NEW, "bash", tag)]))
        assert "spin" in out
        assert out["spin"].waits_for == (("rawhide",) if tag == "f43" else ("f42-updates",))
    assert "spin" not in names(g.affected([BuildChange(BASH_NEW, "bash", "elsewhere")]))


def test_same_nvr_tagged_twice_reaches_both_repositories() -> None:
    g = fedora()
    out = by_name(
        g.affected([BuildChange(BASH_NEW, "bash", "elsewhere"), BuildChange(BASH_NEW, "bash", F43)])
    )
    assert "silverblue" in out
    # The first listing of the build already counts (it is the same build).
    assert [r["type"] for r in out["silverblue"].reasons] == ["manifest", "manifest"]


def test_repositories_of_is_cached_and_follows_redefinitions() -> None:
    g = fedora()
    assert g.repositories_of("silverblue-vagrant") == frozenset({"rawhide"})
    assert g.repositories_of("rawhide") == frozenset()
    assert g.repositories_of("no-such-artifact") == frozenset()
    g.define(ArtifactNode("silverblue", "ostree", parents=(("f42-updates", "composed_from"),)))
    assert g.repositories_of("silverblue-vagrant") == frozenset({"f42-updates"})
    g.remove("silverblue")
    assert g.repositories_of("silverblue-vagrant") == frozenset()


# ---------------------------------------------------------------- repositories


def test_repository_takes_builds_of_its_tags() -> None:
    g = fedora()
    out = g.affected([BuildChange("nano-8.3-1.fc43", "nano", "f43-build")])
    assert names(out) == ["rawhide"]
    [rawhide] = out
    assert rawhide.kind == "repository"
    assert rawhide.reasons == (
        {
            "type": "repository",
            "artifact": "rawhide",
            "nvr": "nano-8.3-1.fc43",
            "package": "nano",
            "via": "tagged into f43-build",
        },
    )
    assert rawhide.changes == ({"nvr": "nano-8.3-1.fc43", "package": "nano", "was": None},)
    assert explain(rawhide.reasons) == ["nano-8.3-1.fc43 goes into rawhide (tagged into f43-build)"]

    assert names(g.affected([BuildChange("nano-8.3-1.fc42", "nano", "f42-updates")])) == [
        "f42-updates"
    ]


def test_repository_with_an_unknown_tag_affects_no_repository() -> None:
    g = fedora()
    assert g.affected([BuildChange("nano-8.3-1.el9", "nano", "epel9")]) == []


def test_build_with_no_tag_goes_into_every_repository() -> None:
    g = fedora()
    out = g.affected([BuildChange("nano-8.3-1.fc43", "nano", None)])
    assert names(out) == ["f42-updates", "rawhide"]
    for a in out:
        assert a.reasons[0]["via"] == "tag unknown: every repository"


def test_explicit_repositories_override_the_tag() -> None:
    g = fedora()
    change = BuildChange("nano-8.3-1.fc42", "nano", "f43")  # tag says rawhide
    out = g.affected([change], repositories=["f42-updates"])
    assert names(out) == ["f42-updates"]
    assert out[0].reasons[0]["via"] == "the push's repository"
    # An empty push touches no repository; a non-repository name is not a repository.
    assert g.affected([change], repositories=[]) == []
    assert g.affected([change], repositories={"silverblue", "nope"}) == []
    # Manifests still count with explicit repositories.
    out = g.affected([BuildChange(BASH_NEW, "bash", "f43")], repositories=("rawhide",))
    assert names(out)[:2] == ["rawhide", "silverblue"]


def test_repository_does_not_propagate_to_what_is_composed_from_it() -> None:
    g = fedora()
    out = g.affected([BuildChange("nano-8.3-1.fc43", "nano", F43)])
    assert names(out) == ["rawhide"]  # silverblue, base, live: their manifests lack nano


def test_child_of_a_repository_affected_by_its_own_manifest_waits_for_it() -> None:
    g = fedora()
    out = by_name(g.affected([BuildChange(BASH_NEW, "bash", F43)]))
    assert out["silverblue"].waits_for == ("rawhide",)
    assert out["workstation-live"].waits_for == ("rawhide",)
    # Only its own manifest: no parent reason from the repository.
    assert [r["type"] for r in out["silverblue"].reasons] == ["manifest"]


# ---------------------------------------------------------------- propagation


def test_propagation_through_a_multi_level_chain() -> None:
    g = fedora()
    out = by_name(g.affected([BuildChange("ostree-2025.2-1.fc43", "ostree", F43)]))
    assert list(out) == ["rawhide", "silverblue", "silverblue-qcow2", "silverblue-vagrant"]
    qcow = out["silverblue-qcow2"]
    assert qcow.reasons == (
        {
            "type": "parent",
            "artifact": "silverblue-qcow2",
            "parent": "silverblue",
            "relation": "built_from",
        },
    )
    assert qcow.waits_for == ("silverblue",)
    assert qcow.changes == ()  # nothing of its own manifest changed
    vagrant = out["silverblue-vagrant"]
    assert vagrant.waits_for == ("silverblue-qcow2",)
    assert explain(vagrant.reasons) == ["silverblue-vagrant is built from silverblue-qcow2"]


def test_propagation_starts_mid_chain() -> None:
    g = fedora()
    out = g.affected([BuildChange("grub2-2.12-11.fc43", "grub2", F43)])
    assert names(out) == ["rawhide", "silverblue-qcow2", "silverblue-vagrant"]
    assert out[1].waits_for == ()  # silverblue is not affected


def test_non_propagating_parent_stops_the_chain() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("tree", "ostree", propagates=False))
    g.define(ArtifactNode("installer", "iso", parents=(("tree", "built_from"),)))
    g.set_manifest("tree", {"bash": BASH_OLD}, "koji")
    g.set_manifest("installer", {"anaconda": "anaconda-42-1"}, "koji")
    assert names(g.affected([BuildChange(BASH_NEW, "bash")])) == ["tree"]
    out = by_name(
        g.affected([BuildChange(BASH_NEW, "bash"), BuildChange("anaconda-42-2", "anaconda")])
    )
    assert list(out) == ["tree", "installer"]
    assert out["installer"].waits_for == ("tree",)
    assert [r["type"] for r in out["installer"].reasons] == ["manifest"]


def test_own_change_and_parent_change_both_give_reasons() -> None:
    g = fedora()
    out = by_name(
        g.affected(
            [
                BuildChange(GLIBC_NEW, "glibc", F43),
                BuildChange("httpd-2.4.63-2.fc43", "httpd", F43),
            ]
        )
    )
    httpd = out["httpd"]
    assert [r["type"] for r in httpd.reasons] == ["manifest", "parent"]
    assert httpd.reasons[1]["parent"] == "base"
    assert httpd.waits_for == ("base",)
    assert httpd.as_dict()["chain"] == [
        "httpd httpd-2.4.63-2.fc43 is in the manifest of httpd (has httpd-2.4.63-1.fc43)"
        " [registry]",
        "httpd is built from base",
    ]
    assert httpd.as_dict()["waits_for"] == ["base"]


def test_diamond_child_has_one_reason_per_affected_parent() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("root", "ostree"))
    g.define(ArtifactNode("left", "qcow2", parents=(("root", "built_from"),)))
    g.define(ArtifactNode("right", "raw", parents=(("root", "built_from"),)))
    g.define(
        ArtifactNode("bundle", "bundle", parents=(("right", "built_from"), ("left", "built_from")))
    )
    g.set_manifest("root", {"bash": BASH_OLD}, "koji")
    out = g.affected([BuildChange(BASH_NEW, "bash")])
    assert names(out) == ["root", "left", "right", "bundle"]
    bundle = out[-1]
    assert sorted(r["parent"] for r in bundle.reasons) == ["left", "right"]
    assert bundle.waits_for == ("right", "left")  # in the definition's order


def test_waits_for_lists_only_affected_parents() -> None:
    g = fedora()
    g.define(
        ArtifactNode(
            "combo",
            "bundle",
            parents=(("silverblue-qcow2", "built_from"), ("base", "built_from")),
        )
    )
    out = by_name(g.affected([BuildChange("grub2-2.12-11.fc43", "grub2", F43)]))
    assert out["combo"].waits_for == ("silverblue-qcow2",)
    out = by_name(
        g.affected(
            [
                BuildChange("grub2-2.12-11.fc43", "grub2", F43),
                BuildChange("coreutils-9.7-1.fc43", "coreutils", F43),
            ]
        )
    )
    assert out["combo"].waits_for == ("silverblue-qcow2", "base")


def test_relation_is_taken_from_the_definition() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("p", "ostree"))
    g.define(ArtifactNode("c", "qcow2", parents=(("p", "composed_from"),)))
    g.set_manifest("p", {"bash": BASH_OLD}, "koji")
    out = g.affected([BuildChange(BASH_NEW, "bash")])
    assert out[1].reasons[0]["relation"] == "composed_from"
    assert explain(out[1].reasons) == ["c is composed from p"]


# ---------------------------------------------------------------- order


def chain_named_against_the_alphabet(order: Iterable[str]) -> ArtifactGraph:
    """z-root -> m-mid -> a-leaf, plus b-other built from z-root; defined in ``order``."""
    defs = {
        "z-root": ArtifactNode("z-root", "ostree"),
        "m-mid": ArtifactNode("m-mid", "qcow2", parents=(("z-root", "built_from"),)),
        "a-leaf": ArtifactNode("a-leaf", "vagrant", parents=(("m-mid", "built_from"),)),
        "b-other": ArtifactNode("b-other", "raw", parents=(("z-root", "built_from"),)),
        "c-alone": ArtifactNode("c-alone", "ostree"),
    }
    g = ArtifactGraph()
    for name in order:
        g.define(defs[name])
    g.set_manifest("z-root", {"bash": BASH_OLD}, "koji")
    g.set_manifest("c-alone", {"bash": BASH_OLD}, "koji")
    return g


def test_order_is_parents_first_then_by_name_whatever_the_definition_order() -> None:
    expected = ["c-alone", "z-root", "b-other", "m-mid", "a-leaf"]
    for order in (
        ["z-root", "m-mid", "a-leaf", "b-other", "c-alone"],
        ["a-leaf", "b-other", "m-mid", "c-alone", "z-root"],  # children before parents
        ["c-alone", "m-mid", "z-root", "b-other", "a-leaf"],
    ):
        g = chain_named_against_the_alphabet(order)
        assert names(g.affected([BuildChange(BASH_NEW, "bash")])) == expected
        assert list(g.rank()) == ["c-alone", "z-root", "b-other", "m-mid", "a-leaf"]
        assert [n["name"] for n in g.as_json()["artifacts"]] == expected


def test_answers_are_repeatable() -> None:
    g = fedora()
    changes = [
        BuildChange(BASH_NEW, "bash", None),
        BuildChange(GLIBC_NEW, "glibc", "f43"),
        BuildChange("firefox-137.0-1.fc43", "firefox", "f42-updates"),
    ]
    first = [a.as_dict() for a in g.affected(changes)]
    assert [a.as_dict() for a in g.affected(changes)] == first
    assert [a.as_dict() for a in fedora().affected(changes)] == first


def test_rank_is_cached_and_reset_by_define() -> None:
    g = fedora()
    rank = g.rank()
    assert g.rank() is rank
    g.set_manifest("httpd", {"httpd": "x"}, "registry")  # manifests do not change the order
    assert g.rank() is rank
    g.define(ArtifactNode("aaa", "container", parents=(("httpd", "built_from"),)))
    new = g.rank()
    assert new is not rank
    assert new["aaa"] > new["httpd"] > new["base"]
    g.remove("aaa")
    assert "aaa" not in g.rank()


# ---------------------------------------------------------------- changes to the graph


def test_define_replaces_parents() -> None:
    g = fedora()
    change = BuildChange("ostree-2025.2-1.fc43", "ostree", F43)
    assert "silverblue-qcow2" in names(g.affected([change]))
    g.define(ArtifactNode("silverblue-qcow2", "qcow2", parents=(("base", "built_from"),)))
    assert names(g.affected([change])) == ["rawhide", "silverblue"]
    out = names(g.affected([BuildChange(GLIBC_NEW, "glibc", F43)]))
    # glibc: silverblue (own manifest) and base (own), qcow2 now from base, vagrant from qcow2.
    assert out == [
        "rawhide",
        "base",
        "httpd",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
    ]
    qcow2 = by_name(g.affected([BuildChange(GLIBC_NEW, "glibc", F43)]))["silverblue-qcow2"]
    assert qcow2.waits_for == ("base",)
    # The manifest and the children survive a redefinition.
    assert g.containing("grub2") == ["silverblue-qcow2"]
    assert "silverblue-vagrant" in names(g.affected([BuildChange("grub2-3", "grub2", F43)]))


def test_define_can_drop_all_parents_and_change_propagation() -> None:
    g = fedora()
    g.define(ArtifactNode("silverblue", "ostree", propagates=False))
    # Now it draws from no repository: any build of its packages reaches it.
    out = by_name(g.affected([BuildChange(BASH_NEW, "bash", "elsewhere")]))
    assert set(out) == {"silverblue"}
    out = by_name(g.affected([BuildChange(BASH_NEW, "bash", F43)]))
    assert set(out) == {"rawhide", "silverblue", "workstation-live"}
    assert out["silverblue"].waits_for == ()
    assert "rawhide" not in g.lineage("silverblue")
    assert [e["from"] for e in g.as_json("silverblue")["edges"]] == [
        "silverblue",
        "silverblue-qcow2",
    ]


def test_remove_forgets_the_artifact_and_cuts_the_chain() -> None:
    g = fedora()
    g.remove("silverblue-qcow2")
    assert "silverblue-qcow2" not in g.nodes
    assert "silverblue-qcow2" not in g.manifests
    assert "silverblue-qcow2" not in g.sources
    assert g.containing("grub2") == []
    out = by_name(g.affected([BuildChange(BASH_NEW, "bash", F43)]))
    assert set(out) == {"rawhide", "silverblue", "workstation-live"}
    # The orphan still answers for its own manifest, with no parent to wait for (and,
    # cut off from rawhide, it now takes any build).
    out = by_name(g.affected([BuildChange("vagrant-guest-2", "vagrant-guest", "elsewhere")]))
    assert list(out) == ["silverblue-vagrant"]
    assert out["silverblue-vagrant"].waits_for == ()
    assert "silverblue-qcow2" not in {n["name"] for n in g.as_json()["artifacts"]}
    assert all("silverblue-qcow2" not in (e["from"], e["to"]) for e in g.as_json()["edges"])


def test_set_manifest_replaces_the_manifest() -> None:
    g = fedora()
    g.set_manifest("silverblue", {"bash": BASH_OLD, "zsh": "zsh-5.9-1.fc43"}, "compose")
    assert g.containing("glibc") == ["base"]
    assert g.containing("ostree") == []
    assert g.containing("zsh") == ["silverblue"]
    assert names(g.affected([BuildChange("ostree-2", "ostree", F43)])) == ["rawhide"]
    out = by_name(g.affected([BuildChange(GLIBC_NEW, "glibc", F43)]))
    assert set(out) == {"rawhide", "base", "httpd"}
    [reason] = by_name(g.affected([BuildChange("zsh-5.9-2.fc43", "zsh", F43)]))[
        "silverblue"
    ].reasons
    assert reason["source"] == "compose"
    assert reason["was"] == "zsh-5.9-1.fc43"
    # The manifest is copied, not aliased.
    mine = {"bash": BASH_OLD}
    g.set_manifest("silverblue", mine, "compose")
    mine["glibc"] = GLIBC_OLD
    assert "glibc" not in g.manifests["silverblue"]
    # An empty manifest: nothing of its own can affect it.
    g.set_manifest("silverblue", {}, "compose")
    assert g.containing("bash") == ["workstation-live"]
    assert names(g.affected([BuildChange(BASH_NEW, "bash", F43)])) == [
        "rawhide",
        "workstation-live",
    ]


def test_update_manifest_records_what_a_compose_carried() -> None:
    g = fedora()
    change = BuildChange(BASH_NEW, "bash", F43)
    g.update_manifest("silverblue", {"bash": BASH_NEW, "nano": "nano-8.3-1.fc43"})
    assert g.manifests["silverblue"]["bash"] == BASH_NEW
    assert "nano" not in g.manifests["silverblue"]  # only packages already listed
    assert g.containing("nano") == []
    assert names(g.affected([change])) == ["rawhide", "workstation-live"]
    g.update_manifest("workstation-live", {"firefox": "firefox-137.0-1.fc43"})
    assert names(g.affected([BuildChange("firefox-137.0-1.fc43", "firefox", F43)])) == ["rawhide"]
    assert names(g.affected([BuildChange("firefox-137.0-2.fc43", "firefox", F43)])) == [
        "rawhide",
        "workstation-live",
    ]
    g.update_manifest("no-such-artifact", {"bash": BASH_NEW})  # no-op
    assert "no-such-artifact" not in g.manifests
    g.update_manifest("rawhide", {"bash": BASH_NEW})  # no manifest: no-op
    assert "rawhide" not in g.manifests


# ---------------------------------------------------------------- lookups


def test_containing() -> None:
    g = fedora()
    assert g.containing("bash") == ["silverblue", "workstation-live"]
    assert g.containing("glibc") == ["base", "silverblue"]
    assert g.containing("nano") == []


def test_lineage() -> None:
    g = fedora()
    assert g.lineage("silverblue-qcow2") == {
        "rawhide",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
    }
    assert g.lineage("rawhide") == {
        "rawhide",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
        "base",
        "httpd",
        "workstation-live",
    }
    assert g.lineage("httpd") == {"rawhide", "base", "httpd"}  # no siblings
    assert g.lineage("f42-updates") == {"f42-updates"}


# ---------------------------------------------------------------- exports


def test_as_json_whole_graph() -> None:
    g = fedora()
    data = g.as_json()
    arts = data["artifacts"]
    assert [a["name"] for a in arts] == list(g.rank())
    rawhide = next(a for a in arts if a["name"] == "rawhide")
    assert rawhide == {
        "name": "rawhide",
        "kind": "repository",
        "manifest_source": None,
        "packages": 0,
        "tags": ["f43", "f43-build"],
    }
    sb = next(a for a in arts if a["name"] == "silverblue")
    assert sb == {"name": "silverblue", "kind": "ostree", "manifest_source": "koji", "packages": 3}
    assert all("manifest" not in a for a in arts)
    rank = g.rank()
    assert len(data["edges"]) == 6
    assert {"from": "silverblue", "to": "silverblue-qcow2", "relation": "built_from"} in data[
        "edges"
    ]
    keys = [(rank[e["from"]], rank[e["to"]]) for e in data["edges"]]
    assert keys == sorted(keys)


def test_as_json_of_one_artifact_shows_its_lineage_and_manifest() -> None:
    g = fedora()
    data = g.as_json("silverblue")
    assert [a["name"] for a in data["artifacts"]] == [
        "rawhide",
        "silverblue",
        "silverblue-qcow2",
        "silverblue-vagrant",
    ]
    sb = data["artifacts"][1]
    assert sb["manifest"] == {
        "bash": BASH_OLD,
        "glibc": GLIBC_OLD,
        "ostree": "ostree-2025.1-1.fc43",
    }
    assert list(sb["manifest"]) == sorted(sb["manifest"])
    assert all("manifest" not in a for a in data["artifacts"] if a["name"] != "silverblue")
    assert data["edges"] == [
        {"from": "rawhide", "to": "silverblue", "relation": "composed_from"},
        {"from": "silverblue", "to": "silverblue-qcow2", "relation": "built_from"},
        {"from": "silverblue-qcow2", "to": "silverblue-vagrant", "relation": "built_from"},
    ]


def test_to_dot_text() -> None:
    g = fedora()
    dot = g.to_dot()
    assert dot.startswith("digraph artifacts {\n")
    assert dot.endswith("}\n")
    assert '"silverblue" -> "silverblue-qcow2" [label="built from"];' in dot
    assert '"rawhide" [label="rawhide\\nrepository · tags: f43, f43-build"];' in dot
    assert '"silverblue" [label="silverblue\\nostree · 3 packages (koji)"];' in dot
    assert "penwidth" not in dot
    focused = g.to_dot("httpd")
    assert '"httpd" [label="httpd\\ncontainer · 1 packages (registry)", penwidth=2' in focused
    assert "silverblue" not in focused
    g.define(ArtifactNode("bare", "ostree"))
    assert '"bare" [label="bare\\nostree · 0 packages (no manifest)"];' in g.to_dot()


@pytest.mark.skipif(shutil.which("dot") is None, reason="graphviz dot is not installed")
@pytest.mark.parametrize("artifact", [None, "silverblue", "httpd"])
def test_to_dot_is_valid_graphviz(artifact: str | None) -> None:
    dot = shutil.which("dot")
    assert dot is not None
    proc = subprocess.run(
        [dot, "-Tsvg"], input=fedora().to_dot(artifact).encode(), capture_output=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert b"<svg" in proc.stdout
    assert proc.stderr == b""


# ---------------------------------------------------------------- known defects
# Bugs the tests found (define/remove/set_manifest in unusual orders, cycles).


def test_removed_then_redefined_parent_propagates_to_its_children_again() -> None:
    g = fedora()
    g.remove("silverblue")
    g.define(ArtifactNode("silverblue", "ostree", parents=(("rawhide", "composed_from"),)))
    g.set_manifest("silverblue", {"bash": BASH_OLD}, "koji")
    assert "silverblue-qcow2" in names(g.affected([BuildChange(BASH_NEW, "bash")]))


def test_as_json_of_an_artifact_whose_parent_is_not_defined_yet() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("qcow2", "qcow2", parents=(("tree", "built_from"),)))
    assert [a["name"] for a in g.as_json("qcow2")["artifacts"]] == ["qcow2"]


def test_manifest_of_an_undefined_artifact_does_not_break_queries() -> None:
    g = fedora()
    g.set_manifest("not-yet-defined", {"bash": BASH_OLD}, "koji")
    assert "silverblue" in names(g.affected([BuildChange(BASH_NEW, "bash")]))


def test_define_refuses_a_cycle() -> None:
    g = ArtifactGraph()
    g.define(ArtifactNode("a", "ostree", parents=(("b", "built_from"),)))
    with pytest.raises(ValueError):
        g.define(ArtifactNode("b", "ostree", parents=(("a", "built_from"),)))


# ---------------------------------------------------------------- property test


@dataclass(frozen=True)
class Case:
    nodes: tuple[ArtifactNode, ...]
    manifests: dict[str, dict[str, str | None]]
    ops: tuple[tuple[str, str], ...]  # ("define"|"manifest", name) in application order
    changes: tuple[BuildChange, ...]
    repositories: frozenset[str] | None


PACKAGES = ("bash", "glibc", "zlib", "grub2", "httpd")
TAGS = ("t1", "t2", "t3")
LETTERS = "abcdefghij"


@st.composite
def cases(draw: st.DrawFn) -> Case:
    n = draw(st.integers(1, 8))
    # Names in a random order so that the alphabet is not a topological order.
    labels = draw(st.permutations(LETTERS))[:n]
    nodes = []
    for i, name in enumerate(labels):
        parents = draw(st.lists(st.sampled_from(labels[:i]), unique=True, max_size=3)) if i else []
        repo = draw(st.booleans())
        nodes.append(
            ArtifactNode(
                name,
                draw(st.sampled_from(("repository", "ostree", "qcow2", "container"))),
                parents=tuple(
                    (p, draw(st.sampled_from(("composed_from", "built_from")))) for p in parents
                ),
                tags=tuple(draw(st.lists(st.sampled_from(TAGS), unique=True, max_size=2))),
                propagates=draw(st.booleans()),
                contains_tags=repo,
            )
        )
    nvr = st.one_of(st.none(), st.sampled_from(("1", "2")))
    manifests: dict[str, dict[str, str | None]] = {}
    for name in labels:
        if draw(st.booleans()):
            content = draw(st.dictionaries(st.sampled_from(PACKAGES), nvr, max_size=4))
            manifests[name] = {p: (None if v is None else f"{p}-{v}") for p, v in content.items()}
    ops = [("define", name) for name in labels] + [("manifest", name) for name in manifests]
    ops = draw(st.permutations(ops))
    changes = draw(
        st.lists(
            st.builds(
                lambda p, v, t: BuildChange(f"{p}-{v}", p, t),
                st.sampled_from((*PACKAGES, "nano")),
                st.sampled_from(("1", "2", "3")),
                st.one_of(st.none(), st.sampled_from((*TAGS, "t9"))),
            ),
            max_size=5,
        )
    )
    repositories = draw(
        st.one_of(st.none(), st.frozensets(st.sampled_from((*labels, "zz")), max_size=3))
    )
    return Case(tuple(nodes), manifests, tuple(ops), tuple(changes), repositories)


def build(case: Case) -> ArtifactGraph:
    g = ArtifactGraph()
    defs = {n.name: n for n in case.nodes}
    for op, name in case.ops:
        if op == "define":
            g.define(defs[name])
        else:
            g.set_manifest(name, case.manifests[name], "test")
    return g


def takes(repo: ArtifactNode, change: BuildChange, repositories: Collection[str] | None) -> bool:
    """Whether a repository artifact takes a build."""
    if not repo.contains_tags:
        return False
    if repositories is not None:
        return repo.name in repositories
    return change.tag is None or change.tag in repo.tags


def ancestors(nodes: Mapping[str, ArtifactNode], name: str) -> set[str]:
    found: set[str] = set()
    for parent, _ in nodes[name].parents:
        found |= {parent} | ancestors(nodes, parent)
    return found


def direct_hits(case: Case, name: str) -> tuple[set[tuple[str, str]], bool]:
    """(package, nvr) of the changes that change the artifact's manifest and reach it
    (through a repository it draws from, if it draws from any); whether it is a
    repository that takes one of the changes."""
    nodes = {n.name: n for n in case.nodes}
    node = nodes[name]
    manifest = case.manifests.get(name, {})
    sources = {a for a in ancestors(nodes, name) if nodes[a].contains_tags}

    def reaches(nvr: str) -> bool:
        # The same NVR listed twice is one build: it reaches what either listing does.
        return not sources or any(
            c.nvr == nvr and takes(nodes[r], c, case.repositories)
            for c in case.changes
            for r in sources
        )

    manifest_hits = {
        (c.package, c.nvr)
        for c in case.changes
        if c.package in manifest and manifest[c.package] != c.nvr and reaches(c.nvr)
    }
    repo_hit = any(takes(node, c, case.repositories) for c in case.changes)
    return manifest_hits, repo_hit


def reference_affected(case: Case) -> set[str]:
    """By the definition: an artifact is affected when its own manifest or tags take a
    change, or when a parent that propagates is affected."""
    nodes = {n.name: n for n in case.nodes}
    memo: dict[str, bool] = {}

    def is_affected(name: str) -> bool:
        if name not in memo:
            node = nodes[name]
            hits, repo = direct_hits(case, name)
            memo[name] = (
                bool(hits)
                or repo
                or any(nodes[p].propagates and is_affected(p) for p, _ in node.parents)
            )
        return memo[name]

    return {name for name in nodes if is_affected(name)}


def reference_order(case: Case) -> list[str]:
    """Kahn's algorithm, always taking the smallest available name."""
    children: dict[str, list[str]] = {n.name: [] for n in case.nodes}
    indegree = {n.name: len(n.parents) for n in case.nodes}
    for n in case.nodes:
        for p, _ in n.parents:
            children[p].append(n.name)
    ready = [name for name, d in indegree.items() if d == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        name = heapq.heappop(ready)
        order.append(name)
        for child in children[name]:
            indegree[child] -= 1
            if indegree[child] == 0:
                heapq.heappush(ready, child)
    return order


@settings(max_examples=400, deadline=None)
@given(cases())
def test_affected_matches_a_brute_force_reference(case: Case) -> None:
    g = build(case)
    out = g.affected(case.changes, repositories=case.repositories)
    got = [a.artifact for a in out]
    expected = reference_affected(case)
    assert set(got) == expected
    assert len(got) == len(set(got))

    # A valid topological order: every affected parent comes before its child ...
    nodes = {n.name: n for n in case.nodes}
    position = {name: i for i, name in enumerate(got)}
    for a in out:
        for p, _ in nodes[a.artifact].parents:
            if p in position:
                assert position[p] < position[a.artifact]
    # ... and the deterministic one: parents first, then by name.
    assert got == [name for name in reference_order(case) if name in expected]

    for a in out:
        node = nodes[a.artifact]
        assert a.kind == node.kind
        hits, repo = direct_hits(case, a.artifact)
        assert set(a.waits_for) == {p for p, _ in node.parents if p in expected}
        assert all(r["artifact"] == a.artifact for r in a.reasons)
        manifest_reasons = {(r["package"], r["nvr"]) for r in a.reasons if r["type"] == "manifest"}
        assert manifest_reasons == hits
        assert any(r["type"] == "repository" for r in a.reasons) == repo
        parent_reasons = {r["parent"] for r in a.reasons if r["type"] == "parent"}
        assert parent_reasons == {
            p for p, _ in node.parents if p in expected and nodes[p].propagates
        }
        changed = {c["nvr"] for c in a.changes}
        repo_nvrs = {r["nvr"] for r in a.reasons if r["type"] == "repository"}
        assert changed == {nvr for _, nvr in hits} | repo_nvrs
        assert len(explain(a.reasons)) == len(a.reasons)


@settings(max_examples=150, deadline=None)
@given(cases())
def test_containing_and_lineage_match_the_definitions(case: Case) -> None:
    g = build(case)
    for package in (*PACKAGES, "nano"):
        assert g.containing(package) == sorted(
            name for name, m in case.manifests.items() if package in m
        )
    parents = {n.name: {p for p, _ in n.parents} for n in case.nodes}

    def up(name: str) -> set[str]:
        return set().union(*({p} | up(p) for p in parents[name])) if parents[name] else set()

    for name in parents:
        down = {other for other in parents if name in up(other)}
        assert g.lineage(name) == {name} | up(name) | down
