"""The generated CI file as data: its one reader, the one assembly of a job's script,
the stub-command runner, build-request parsing and the command recorder."""
