"""Helpers that start a local restaurant (Redis, kitchen workers) for the demo, `make up` and tests."""
