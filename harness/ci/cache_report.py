"""The build job's cache report (the generated project's `ci/cache-report.awk`), read
back, and what it must say about a build whose steps the harness has read itself.

The report is a few lines that start with "cache report: " at the end of the job log:

  cache report: read <ref> (found)            one line per cache ref the build read,
  cache report: read <ref> (not found)        in the order BuildKit imported them
  cache report: 8 of 10 steps came from the cache, 2 ran
  cache report: the compile step ran in 1.2 s (or: came from the cache)
  cache report: pulled 12.0 MB of layers
  cache report: wrote <ref>                   or, when the export failed (exit code 3):
  cache report: WARNING: the cache export failed, the image was pushed: <reason>
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from harness.evidence.step_table import CACHED, StepTable

PREFIX = "cache report: "
COUNTS_RE = re.compile(r"^(\d+) of (\d+) steps came from the cache, (\d+) ran$")
READ_RE = re.compile(r"^read (\S+) \((found|not found|failed: .*)\)$")
WARNING = "WARNING: the cache export failed, the image was pushed: "
# The exit code of a report whose cache export failed; .gitlab-ci.yml's build-image job
# allows it (allow_failure: exit_codes), so GitLab shows "passed with warnings".
EXPORT_FAILED = 3


@dataclass(frozen=True)
class CacheReport:
    lines: list[str]

    @classmethod
    def of(cls, log: str) -> CacheReport:
        return cls(
            [line.removeprefix(PREFIX) for line in log.splitlines() if line.startswith(PREFIX)]
        )

    def counts(self) -> tuple[int, int, int]:
        """(from the cache, steps, ran), as the report gives them."""
        for line in self.lines:
            if match := COUNTS_RE.match(line):
                return int(match[1]), int(match[2]), int(match[3])
        raise AssertionError(f"no step counts in the report: {self.lines}")

    def reads(self) -> dict[str, str]:
        """Each cache ref read, with what came of it ("found", "not found", ...)."""
        return {m[1]: m[2] for line in self.lines if (m := READ_RE.match(line))}

    def export_failure(self) -> str | None:
        found = [line.removeprefix(WARNING) for line in self.lines if line.startswith(WARNING)]
        return found[0] if found else None


def expected_counts(table: StepTable) -> tuple[int, int, int]:
    """(from the cache, steps, ran) for a table of plain progress: FROM aside, as the
    report counts (a step plain progress never names is in neither)."""
    steps = [step for step in table if not step.text.startswith("FROM ")]
    cached = sum(step.status == CACHED for step in steps)
    return cached, len(steps), len(table.executed())
