"""The strict registry gate's own rule, by its Go tests (no Docker needed): a manifest
whose subject is absent from the repository is refused as GitLab's registry refuses it;
everything else reaches the registry behind it unchanged."""

from __future__ import annotations

import os
import subprocess

from harness.infra.policy import require_tool
from harness.paths import REPO_ROOT

GATE_SOURCE = REPO_ROOT / "testbed" / "standins" / "strict-registry"


def test_gate_rule_go_tests():
    result = subprocess.run(
        [require_tool("go"), "test", "-count=1", "-v", "./..."],
        cwd=GATE_SOURCE,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "CGO_ENABLED": "0", "GOFLAGS": "-mod=mod"},
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--- PASS: TestRefusesAManifestWhoseSubjectIsNotInTheRepository" in result.stdout


def test_gate_source_is_stdlib_only():
    """The testbed builds it offline: no module to download."""
    go_mod = (GATE_SOURCE / "go.mod").read_text(encoding="utf-8")
    assert "require" not in go_mod, go_mod
