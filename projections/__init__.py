"""The read side and the deciding: what the event log means, and what to do about it.

Data flows one way: stored events -> folds -> processes decide -> new events.

* ``projections.folds`` — views and read models folded from stored events, pure (they
  never read the store): the decider's gating view, the composer's artifacts view, the
  artifact graph, the read models' row changes, the documents views are kept in.
* ``projections.processes`` — the followers of the log: each folds its view
  (``follower``) and, for new input, decides and records events: the ``decider``
  (gates, with its ``Bisector`` and ``DecisionActions``), the ``composer`` (composes,
  with its ``Pushes``), both requesting outbox actions (``outbox``).
* Here, shared by both and by the adapters: the site settings (``config``), the read
  side's port (``queries``), the one builder of the policy input (``policy_input``),
  and Greenwave's decision API (``decision_api``, answering a ``decision_request``).

Folds import no process (``lint-imports`` checks it). The code of every module here
is part of a stored view's format (``processes.view_format``): changing it refolds them.
"""
