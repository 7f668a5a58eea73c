"""Pure policy evaluation: (policy set, input snapshot) -> decision with reasons."""
