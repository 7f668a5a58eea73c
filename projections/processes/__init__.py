"""Processes: followers of the event log that fold a view and decide, recording events.

* ``follower`` — the loop: read the log in order, fold it into the view
  (``projections.folds``), decide after each group of new input, save what was
  recorded with the view and the position in one transaction. ``Host`` is what its
  collaborators use of it: the view, the settings, the report, the aggregates;
  ``view_format`` says which stored view it may resume from.
* ``decider`` — gates: opens, withdraws and decides them with the policy engine; its
  collaborators ``bisection.Bisector`` (failing batch checks) and
  ``outbox.DecisionActions`` (koji moves, ``decision.changed``);
* ``composer`` — composes of the artifacts promotions and pushes affect, in order;
  its collaborator ``pushes.Pushes`` moves a Bodhi push from repos to release;
  ``rounds`` names its decision rounds;
* ``outbox`` — ``Outbox`` requests an action once (both followers have one).

Each collaborator is built by its follower and sees it only through ``Host``.
"""
