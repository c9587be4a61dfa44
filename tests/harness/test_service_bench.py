"""The service benchmark, run short: the real binary on loopback under load, stopped
with SIGTERM while load-balancer-like clients keep sending. With the drain delay no
request fails and the process exits 0 within drain + shutdown deadline."""

from __future__ import annotations

import json

from bench import service
from harness.infra.policy import require_tool


def test_no_request_fails_across_a_drained_stop(tmp_path):
    require_tool("go")
    assert (
        service.main(["--clients", "4", "--seconds", "1", "--drain", "1s", "--out", str(tmp_path)])
        == 0
    )
    (result_file,) = tmp_path.glob("service-*/service.json")
    result = json.loads(result_file.read_text(encoding="utf-8"))
    steady = result["steady"]
    assert steady["requests"] > 0 and steady["failed"] == 0, steady
    assert steady["memory_kib"]["VmHWM"] > 0
    drained, undrained = result["stops"]
    assert drained["drain"] == "1s"
    assert drained["exit_code"] == 0 and undrained["exit_code"] == 0, result["stops"]
    assert drained["load"]["stopped_by_readiness"], drained
    assert drained["load"]["failed"] == 0, f"requests failed across the drained stop: {drained}"
    # The drain delay, then at most the 10 s shutdown deadline (plus slack).
    assert 1.0 <= drained["seconds_to_exit"] < 1.0 + 10 + 3, drained
