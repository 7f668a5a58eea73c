"""What signing asks koji: a build's rpms (``listRPMs``) and tagging it (``tagBuild``)."""

from __future__ import annotations

from relengotron.adapters.koji.koji_gateway import KojiGateway, is_transient
from relengotron.adapters.koji.koji_values import KojiSignError, KojiUnavailable


class KojiSigning:
    def __init__(self, gateway: KojiGateway) -> None:
        self.gateway = gateway

    def rpms(self, nvr: str) -> list[str]:
        """Every rpm of the build as ``name-version-release.arch``, sorted."""
        try:
            build = self.gateway.build(nvr)
            if build is None:
                raise KojiSignError(f"no build {nvr}", transient=False)
            rows = self.gateway.session().listRPMs(buildID=build["id"])
        except KojiSignError:
            raise
        except KojiUnavailable as exc:
            raise KojiSignError(str(exc), transient=True) from exc
        except Exception as exc:
            raise KojiSignError(str(exc), transient=is_transient(exc)) from exc
        return sorted(f"{r['name']}-{r['version']}-{r['release']}.{r['arch']}" for r in rows)

    def add_tag(self, nvr: str, tag: str) -> str:
        """Tag the build into ``tag`` (kept in its other tags); a build already there is
        left as it is. Says which."""
        try:
            if tag in self.gateway.tags_of(nvr):
                return "already in"
            self.gateway.session().tagBuild(tag, nvr)
        except KojiUnavailable as exc:
            raise KojiSignError(str(exc), transient=True) from exc
        except Exception as exc:
            raise KojiSignError(str(exc), transient=is_transient(exc)) from exc
        return "tagged into"
