"""The HTTP API: ``create_app`` (``adapters.http.app``)."""
