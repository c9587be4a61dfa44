"""The three builders' machinery: buildx builders, the rootless and shared jobs run in
containers, the shared BuildKit service, buildkitd's configuration, and `table.py`,
one row per builder. Imports nothing, so `python3 -m harness.builders.buildkitd` runs
on the testbed's plain Python."""
