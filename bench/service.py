"""Load on the generated service, and a stop under load: throughput, latency, memory,
and failed requests across a SIGTERM, with and without the drain delay.

    python3 -m bench.service [--clients 32] [--seconds 10] [--drain 2s] [--out results/]

Everything runs on this machine and stops by itself: the default project is baked and
built with the Go release its image pins, served on 127.0.0.1, and loaded by
bench/loadgen (Go, keep-alive clients, loopback only) for a fixed time. Then the stop:
clients that behave like a load balancer (they stop once /readyz fails) keep sending
while the service gets SIGTERM, once with the drain delay and once with none.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from harness.infra.commands import wait_until_ok
from harness.template import bake_defaults, go_toolchain

LOADGEN = Path(__file__).resolve().parent / "loadgen"


@dataclass
class Stop:
    drain: str
    exit_code: int
    seconds_to_exit: float  # from SIGTERM to the process's end
    load: dict  # loadgen's report for the clients running across the stop


def build(workdir: Path) -> tuple[Path, Path]:
    """The service binary (from a fresh bake) and the load generator."""
    project = bake_defaults(workdir)
    env = {**os.environ, "CGO_ENABLED": "0", "GOTOOLCHAIN": go_toolchain()}
    service = workdir / "service"
    subprocess.run(
        ["go", "build", "-trimpath", "-o", str(service), "."], cwd=project, env=env, check=True
    )
    loadgen = workdir / "loadgen"
    subprocess.run(
        ["go", "build", "-o", str(loadgen), "."],
        cwd=LOADGEN,
        env={**os.environ, "GOTOOLCHAIN": "local"},
        check=True,
    )
    return service, loadgen


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start(service: Path, drain: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen(
        [str(service)],
        env={"PORT": str(port), "SHUTDOWN_DRAIN_DELAY": drain},
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    if not wait_until_ok(f"{base}/readyz", 10, lambda: process.poll() is None):
        raise RuntimeError("the service did not become ready")
    return process, base


def memory_kib(pid: int) -> dict[str, int]:
    """Resident memory now (VmRSS) and at its peak (VmHWM), from /proc."""
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


def load(loadgen: Path, *args: str) -> dict:
    out = subprocess.run(
        [str(loadgen), *args], capture_output=True, text=True, timeout=600, check=True
    )
    return json.loads(out.stdout)


def throughput(service: Path, loadgen: Path, clients: int, seconds: float) -> dict:
    process, base = start(service, "0")
    try:
        report = load(
            loadgen, f"-url={base}/version", f"-clients={clients}", f"-duration={seconds}s"
        )
        report["memory_kib"] = memory_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    return report


def stop_under_load(service: Path, loadgen: Path, clients: int, drain: str) -> Stop:
    process, base = start(service, drain)
    clients_run = subprocess.Popen(
        [str(loadgen), f"-url={base}/version", f"-ready={base}/readyz",
         f"-clients={clients}", "-duration=30s", "-check-every=100ms"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(2)  # steady load first
    signalled = time.monotonic()
    process.send_signal(signal.SIGTERM)
    code = process.wait(timeout=60)
    seconds = time.monotonic() - signalled
    out, _ = clients_run.communicate(timeout=60)
    return Stop(drain, code, round(seconds, 3), json.loads(out))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--drain", default="2s", help="SHUTDOWN_DRAIN_DELAY for the stop")
    parser.add_argument("--out", type=Path, default=Path("results"))
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="gotpl-service-bench-") as tmp:
        service, loadgen = build(Path(tmp))
        steady = throughput(service, loadgen, args.clients, args.seconds)
        stops = [stop_under_load(service, loadgen, args.clients, d) for d in (args.drain, "0")]
    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpus": os.cpu_count(),
        "clients": args.clients,
        "steady": steady,
        "stops": [asdict(stop) for stop in stops],
    }
    folder = args.out / f"service-{datetime.now(UTC):%Y%m%dT%H%M%SZ}"
    folder.mkdir(parents=True)
    (folder / "service.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(
        f"steady: {steady['requests_per_second']:.0f} requests/s, p50 {steady['p50_ms']} ms, "
        f"p99 {steady['p99_ms']} ms, {steady['failed']} failed, "
        f"peak memory {steady['memory_kib'].get('VmHWM', 0) / 1024:.1f} MiB"
    )
    for stop in stops:
        print(
            f"stop with drain {stop.drain}: {stop.load['failed']} of {stop.load['requests']} "
            f"requests failed; exit code {stop.exit_code} after {stop.seconds_to_exit:.2f} s"
        )
    print(f"written to {folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
