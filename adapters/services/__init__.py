"""The use cases the CLI, the HTTP API, the demo and the audit share: deciding
(``decisions``), recording inputs (``inputs``: ingest, waive, override, policy sync), a
build's status (``status``), artifact rows (``artifacts``) and a subject's history
(``history``). They run what ``adapters.bootstrap`` builds; nothing here parses arguments
or renders text."""
