"""Testbed infrastructure: the tier's settings, skip-or-fail policy, subprocesses, the
private engine, the registry, a test CA and the pinned Node tools."""
