"""Start a local restaurant (Redis, kitchen workers) for the demo, `make up` and the tests."""
