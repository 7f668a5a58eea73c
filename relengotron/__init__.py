"""releng-o-tron: an event-sourced release gating engine.

One distribution namespace for the design's top-level folders: ``relengotron.domain``,
``relengotron.policies``, ``relengotron.projections`` and ``relengotron.adapters`` are
the folders ``domain/``, ``policies/``, ``projections/`` and ``adapters/`` at the top of
the checkout (symbolic links here), and ``relengotron/config`` is ``config/``: the
default policies, artifact definitions and example settings, installed as package data.
"""
