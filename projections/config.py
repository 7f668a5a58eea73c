"""What the gating projections need to know about the site: tags, context, bisection."""

from __future__ import annotations

from dataclasses import dataclass

FALLBACKS = ("hold", "quarantine")
# Greenwave's DEFAULT_DIST_GIT_URL_TEMPLATE (greenwave/config.py): where a package's own
# gating.yaml is read (RemoteRule).
DIST_GIT_URL_TEMPLATE = (
    "https://src.fedoraproject.org/{pkg_namespace}{pkg_name}/raw/{rev}/f/gating.yaml"
)


@dataclass(frozen=True)
class GatingConfig:
    pending_tag: str = "rawhide-pending"
    promoted_tag: str = "rawhide"
    quarantine_tag: str = "rawhide-badnewsbears"
    product_version: str = "fedora-rawhide"
    decision_context: str = "rawhide_pending"
    # Bisection of failing batch checks: at most this many rounds of halving,
    # and at most this long (measured in message time) before the fallback.
    max_rounds: int = 6
    bisection_timeout_hours: float = 24.0
    fallback: str = "hold"
    # Re-checks of the rest of a bisected batch after its suspects left (policies with
    # ``recheck: after-quarantine``): at most this many per bisection.
    max_rechecks: int = 3
    # A rerun someone asks for (``relengotron rerun``) is awaited this long (message time)
    # before the failure it was asked for stands again.
    rerun_timeout_hours: float = 6.0
    topic_prefix: str = "relengotron"
    # Greenwave's REMOTE_RULE_POLICIES for koji_build: the URL templates of gating.yaml.
    remote_rule_templates: tuple[str, ...] = (DIST_GIT_URL_TEMPLATE,)

    def __post_init__(self) -> None:
        if self.fallback not in FALLBACKS:
            raise ValueError(
                f"bisection fallback must be one of {FALLBACKS}, not {self.fallback!r}"
            )
        if not self.rerun_timeout_hours > 0:
            raise ValueError("rerun timeout_hours must be positive")
        if self.max_rechecks < 0:
            raise ValueError("bisection max_rechecks must not be negative")
        if self.max_rounds < 1:
            raise ValueError("bisection max_rounds must be at least 1")
        tags = (self.pending_tag, self.promoted_tag, self.quarantine_tag)
        if len(set(tags)) != 3:
            raise ValueError(f"the pending, promoted and quarantine tags must differ: {tags}")


@dataclass(frozen=True)
class KindTraits:
    """What the engine needs to know of an artifact kind (the plugin knows the rest)."""

    propagates: bool = True  # artifacts built from it carry its content
    contains_tags: bool = False  # a repository: holds every build of its tags
    backend: str | None = None  # where the site sends its composes ([compose.kinds])


@dataclass(frozen=True)
class ComposerConfig:
    promoted_tag: str = "rawhide"
    kinds: tuple[tuple[str, KindTraits], ...] = ()
    # Whether pushes have a release step ("sync bits live") configured; without
    # one a push stops at ``release`` with that reason instead of pretending.
    release_configured: bool = False

    def traits(self, kind: str) -> KindTraits:
        for name, traits in self.kinds:
            if name == kind:
                return traits
        return KindTraits()
