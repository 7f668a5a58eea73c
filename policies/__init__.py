"""Pure policy evaluation: (policy set, input snapshot) -> decision with reasons.

* :mod:`policies.spec` -- the policy model (Greenwave's ``!Policy`` as frozen values);
* :mod:`policies.snapshot` -- what a decision is made from;
* :mod:`policies.answers` -- requirements and their summary;
* :mod:`policies.decision` -- the decision, its JSON and fingerprints;
* :mod:`policies.engine` -- ``evaluate(policy_set, snapshot)``;
* :mod:`policies.checks` -- what one rule answers.

Standard library only: no I/O, no clock, no YAML (``adapters/rules/policy_loader.py`` reads files).
"""

from relengotron.policies.answers import Requirement
from relengotron.policies.applicability import applicable
from relengotron.policies.decision import VERDICTS, Decision
from relengotron.policies.engine import evaluate
from relengotron.policies.snapshot import (
    BATCH_STATUSES,
    BatchView,
    ResultView,
    Snapshot,
    WaiverView,
)
from relengotron.policies.spec import (
    BatchIntegrityRule,
    PassingPipelineStageRule,
    PassingTestCaseRule,
    Policy,
    PolicyError,
    PolicySet,
    Rule,
)

__all__ = [
    "BATCH_STATUSES",
    "VERDICTS",
    "BatchIntegrityRule",
    "BatchView",
    "Decision",
    "PassingPipelineStageRule",
    "PassingTestCaseRule",
    "Policy",
    "PolicyError",
    "PolicySet",
    "Requirement",
    "ResultView",
    "Rule",
    "Snapshot",
    "WaiverView",
    "applicable",
    "evaluate",
]
