"""Record the commands a CI job runs, with their arguments, as a process list shows them."""

from __future__ import annotations

import shlex
import shutil
from pathlib import Path


class CommandRecorder:
    """A wrapper put first on a job's PATH: it appends the arguments of every call of
    `command` to a file, then runs the real command. A process list shows exactly a
    command's arguments, so the record shows what `ps` on the runner host would."""

    def __init__(self, command: str, folder: Path, *, real: str = "", mounted_at: str = "") -> None:
        """For a job in a container, give the command's path in there as `real` and the
        path where `folder` is mounted in there as `mounted_at`."""
        real = real or shutil.which(command) or ""
        assert real, f"{command} is not on PATH"
        self.folder = folder / "bin"
        self.record = folder / f"{command}-calls"
        self.folder.mkdir(parents=True)
        wrapper = self.folder / command
        # Per call: who called (the CI job's name, empty outside a job), the argument
        # count, then each argument, all ending in NUL (no text can hold one), then the
        # record separator (036).
        written = f"{mounted_at}/{self.record.name}" if mounted_at else str(self.record)
        record = shlex.quote(written)
        wrapper.write_text(
            "#!/bin/sh\n"
            '{ printf \'%s\\0\' "${CI_JOB_NAME:-}" "$#" "$@"; printf \'\\036\'; }'
            f" >> {record}\n"
            f'exec {shlex.quote(real)} "$@"\n',
            encoding="utf-8",
        )
        wrapper.chmod(0o755)

    def calls(self, job: str | None = None) -> list[list[str]]:
        """The argument lists of every call so far, in order; with `job`, only the calls
        made by that CI job's commands (not by the emulator around it)."""
        return [args for origin, args in self.origins() if job is None or origin == job]

    def origins(self) -> list[tuple[str, list[str]]]:
        """(calling job or "", arguments) of every call so far."""
        if not self.record.exists():
            return []
        data, position = self.record.read_bytes(), 0
        calls: list[tuple[str, list[str]]] = []

        def field() -> bytes:
            nonlocal position
            end = data.index(b"\0", position)
            value, position = data[position:end], end + 1
            return value

        while position < len(data):
            origin = field().decode(errors="replace")
            count = int(field())
            calls.append((origin, [field().decode(errors="replace") for _ in range(count)]))
            assert data[position : position + 1] == b"\x1e", "a call record is cut short"
            position += 1
        return calls
