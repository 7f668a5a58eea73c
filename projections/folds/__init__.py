"""Folds: stored events in, views and read models out; pure (they never read the store).

* the decider's gating view: ``gating`` (``GatingView``), what it keeps per build and
  check (``gating_state``), where a build stands in batch checks (``gating_batch``),
  gates, bisections and actions (``records``), remote rule files (``remote_files``);
* the composer's artifacts view: ``artifacts`` (``ArtifactView``), its state
  (``artifact_state``), composes and pushes (``compose_records``), the artifact
  dependency graph (``graph``);
* the read models (SQL tables the adapters write): ``readmodel`` with
  ``readmodel_subjects``, ``readmodel_core``, ``readmodel_rows``; Greenwave's records
  (``greenwave_records``) and requirement states (``requirement_states``) they answer;
* ``view_docs``: views kept in tables as JSON documents, loaded entry by entry.

A view folds an event with ``apply(event, position)`` and marks what it affects; the
processes (``projections.processes``) read it and decide. Nothing here imports them.
"""
