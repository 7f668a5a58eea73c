"""A gate's state is worked out in one place (``domain.gating.gate_state``), for
``relengotron status`` (``adapters.cli.cli_gating``) and the read models' ``builds.gate``
(``projections.folds.readmodel``) alike."""

from __future__ import annotations

from relengotron.domain import gating
from relengotron.domain.gating import gate_state


def test_each_verdict_gives_its_state_and_withdrawal_or_a_done_move_win() -> None:
    undecided = {"withdrawn": False, "promoted": False}
    assert gate_state(None, **undecided) == gating.CANDIDATE
    assert gate_state("promote", **undecided) == gating.CANDIDATE  # until the move is done
    assert gate_state("quarantine", **undecided) == gating.QUARANTINED
    assert gate_state("waived", **undecided) == gating.WAIVED
    assert gate_state("hold", **undecided) == gating.HELD
    assert gate_state("promote", withdrawn=False, promoted=True) == gating.PROMOTED
    assert gate_state("quarantine", withdrawn=True, promoted=True) == gating.OBSOLETED
