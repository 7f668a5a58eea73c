"""The lifecycle's plan and plugins without the world: the entry points, the plans'
steps, the ``[release]`` settings, the policies' line edits."""

from __future__ import annotations

import importlib.metadata
from pathlib import Path

import pytest

from relengotron.adapters.lifecycle import config_steps
from relengotron.adapters.lifecycle.config import LifecycleSettings
from relengotron.adapters.lifecycle.steps import (
    GROUP,
    PluginLoadError,
    Release,
    StepError,
    load_plugins,
)
from relengotron.adapters.services.lifecycle import make_plan, release_of
from relengotron.adapters.settings import SettingsError
from relengotron.adapters.settings_file import load_settings

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "relengotron.example.toml"


def test_the_installed_plugins_in_their_order() -> None:
    names = [p.name for p in load_plugins()]
    assert names == ["koji", "bodhi", "distgit", "bugzilla", "policies", "artifacts",
                     "mirrors", "ostree", "content"]  # fmt: skip


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("relengotron.adapters.lifecycle.nowhere:X", "cannot be loaded"),
        ("relengotron.adapters.lifecycle.steps:Step", "not a StepPlugin"),
        ("relengotron.adapters.lifecycle.koji_steps:KojiSteps", "says its name is 'koji'"),
    ],
)
def test_a_bad_plugin_is_named(value: str, message: str) -> None:
    ep = importlib.metadata.EntryPoint("mine", value, GROUP)
    with pytest.raises(PluginLoadError, match=message):
        load_plugins([ep])


def test_plans_have_unique_steps_and_name_the_release() -> None:
    plugins = [cls(None) for cls in load_plugins()]
    for op in ("branch", "eol"):
        release = Release(op, "45", LifecycleSettings(packages=("bash",)))
        steps = make_plan(plugins, release)
        assert len({s.id for s in steps}) == len(steps)
        assert all("45" in s.id for s in steps)
    eol = [s.id for s in make_plan(plugins, Release("eol", "43", LifecycleSettings()))]
    # Targets dropped before the tags are locked; content archived last.
    assert eol.index("koji.drop-target:f43") < eol.index("koji.lock:f43")
    assert eol[-1] == "content.archive:updates/testing/43"


@pytest.mark.parametrize("version", ["rawhide", "4a", "1", ""])
def test_a_version_is_a_release_number(version: str) -> None:
    with pytest.raises(ValueError, match="release version"):
        release_of("branch", version, load_settings(str(EXAMPLE)))


def test_release_settings(tmp_path: Path) -> None:
    s = load_settings(str(EXAMPLE)).release
    assert s.bodhi_url is None and s.bugzilla_batch == 100 and s.ostree_os == "fedora"
    f = tmp_path / "r.toml"
    f.write_text('[release]\nmirrors = "pub"\n[release.ostree]\nrepo = "/srv/repo"\n')
    s = load_settings(str(f)).release
    assert s.mirrors == tmp_path / "pub" and s.ostree_repo == Path("/srv/repo")
    f.write_text('[release.bodhi]\nurls = "x"\n')
    with pytest.raises(SettingsError, match=r"unknown key 'urls' in \[release\.bodhi\]"):
        load_settings(str(f))


POLICY = """--- !Policy
id: p1
product_versions:
  - fedora-43
  - fedora-44  # the current one
decision_contexts: [c]
subject_type: koji_build
rules: []
"""


def _policies(tmp_path: Path, text: str) -> Release:
    (tmp_path / "p.yaml").write_text(text)
    return Release("branch", "45", LifecycleSettings(), tmp_path, tmp_path)


def test_the_product_version_added_next_to_the_previous_then_retired(tmp_path: Path) -> None:
    plugin = config_steps.PolicySteps(None)
    r = _policies(tmp_path, POLICY)
    (step,) = plugin.plan(r)
    assert plugin.apply(step, r).outcome == "done"
    text = (tmp_path / "p.yaml").read_text()
    assert "  - fedora-44  # the current one\n  - fedora-45  # the current one\n" in text
    assert plugin.apply(step, r).outcome == "already"
    eol = Release("eol", "43", LifecycleSettings(), tmp_path, tmp_path)
    (step,) = plugin.plan(eol)
    assert plugin.apply(step, eol).outcome == "done"
    assert "fedora-43" not in (tmp_path / "p.yaml").read_text()


def test_a_pattern_covers_the_new_version(tmp_path: Path) -> None:
    plugin = config_steps.PolicySteps(None)
    r = _policies(tmp_path, POLICY.replace("fedora-43", "fedora-*").replace(
        "  - fedora-44  # the current one\n", ""))  # fmt: skip
    out = plugin.apply(plugin.plan(r)[0], r)
    assert out.outcome == "already" and "fedora-*" in out.detail


def test_no_policy_for_the_release_stops_the_run(tmp_path: Path) -> None:
    plugin = config_steps.PolicySteps(None)
    r = _policies(tmp_path, POLICY.replace("fedora-4", "epel-"))
    with pytest.raises(StepError, match="add the product version to the policies by hand"):
        plugin.apply(plugin.plan(r)[0], r)


def test_the_shipped_definitions_clone_for_a_new_release(tmp_path: Path) -> None:
    """Rawhide's artifacts are named without "rawhide" (fedora-iot-ostree): the clones
    get the release in their names, and their references follow."""
    import shutil

    from relengotron.adapters.artifacts.definitions import load_definitions
    from relengotron.adapters.artifacts.registry import load_kinds

    shipped = Path(__file__).resolve().parents[2] / "config" / "artifacts"
    shutil.copytree(shipped, tmp_path / "a")
    r = Release("branch", "45", LifecycleSettings(), tmp_path, tmp_path / "a")
    plugin = config_steps.ArtifactSteps(None)
    (step,) = plugin.plan(r)
    assert plugin.apply(step, r).outcome == "done"
    defs = {d.name: d for d in load_definitions(tmp_path / "a", load_kinds())}
    iot = defs["fedora-iot-ostree-f45"]
    assert iot.data["release"] == "f45" and iot.data["repositories"] == ["f45-repo"]
    assert iot.data["match"]["ostree_ref"] == "fedora/45/x86_64/iot"
    assert defs["fedora-iot-qcow2-f45"].data["built_from"] == ["fedora-iot-ostree-f45"]
    assert defs["fedora-iot-ostree"].data["release"] == "rawhide"  # the original stays
    assert plugin.apply(step, r).outcome == "already"


def test_a_file_edit_that_fails_midway_leaves_the_file_as_it_was(tmp_path: Path) -> None:
    """The policy and artifact steps replace a file whole or not at all: a write that
    stops midway (here an encoding error after 30 kB; in CI, a kill -9 of the release
    run) used to leave a truncated policy file that the resumed run could not read."""
    from relengotron.adapters.lifecycle.config_steps import _write_atomically

    path = tmp_path / "rawhide.yaml"
    path.write_text("product_versions:\n  - fedora-44\n")
    with pytest.raises(UnicodeEncodeError):
        _write_atomically(path, "product_versions:\n  - fedora-45\n" * 1000 + "\udcff")
    assert path.read_text() == "product_versions:\n  - fedora-44\n"
    assert [p.name for p in tmp_path.iterdir()] == ["rawhide.yaml"]
    _write_atomically(path, "product_versions:\n  - fedora-45\n")
    assert path.read_text() == "product_versions:\n  - fedora-45\n"
