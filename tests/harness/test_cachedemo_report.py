"""harness.cachedemo reads the demo's printed report back: checked on a recorded run.

`data/cachedemo-all.txt` is the output of one real `make cache-demo SCENARIO=all` on
the testbed (default project, classic-store engine). The Docker tier parses a fresh run
the same way; this test pins down the parser without building anything.
"""

from __future__ import annotations

from pathlib import Path

from harness.cachedemo import one, parse_report

RECORDED = Path(__file__).parent / "data" / "cachedemo-all.txt"


def test_every_scenario_section_is_found():
    sections = parse_report(RECORDED.read_text(encoding="utf-8"))
    assert list(sections) == [
        "registry-cache", "arg-at-top", "mode-min", "inline-cache",
        "docker-driver", "cache-mount", "no-warm-up",
    ]  # fmt: skip
    assert sections["registry-cache"].pitfall == ""
    assert sections["arg-at-top"].pitfall == "An ARG declared too early"
    assert sections["mode-min"].pitfall == "mode=min forgets the builder stage"


def test_tables_counts_and_sentences_are_read():
    sections = parse_report(RECORDED.read_text(encoding="utf-8"))
    cold, rebuild = sections["registry-cache"].single_tables()
    assert cold[one(cold, "RUN go build std")] == "executed"
    assert rebuild[one(rebuild, "RUN go build std")] == "cached"

    pairs = sections["arg-at-top"].pairs()
    assert pairs[one(pairs, "RUN go mod download")] == ("cached", "executed")
    assert sections["arg-at-top"].sentence().startswith("With `ARG GIT_COMMIT`")

    pairs = sections["no-warm-up"].pairs()
    assert pairs[one(pairs, "RUN go build std")] == ("cached", "-")
    counts = sections["cache-mount"].compiled()
    assert set(counts) == {"good", "bad", "same"}
    assert counts["bad"] > counts["good"]
    (rebuild,) = sections["docker-driver"].single_tables()
    assert rebuild, sections["docker-driver"].text
    # The closing summary line is not part of the last scenario.
    assert not any("builds in" in line for line in sections["no-warm-up"].lines)


def test_a_report_without_sections_gives_nothing():
    assert parse_report("cache-demo: starting a throwaway registry ...\n") == {}


# One real `make cache-demo SCENARIO=rootless` on the testbed: its two columns are named
# by direction, not "good" and "bad", and it says how rootless BuildKit was started.
RECORDED_ROOTLESS = Path(__file__).parent / "data" / "cachedemo-rootless.txt"


def test_the_rootless_scenario_is_read_with_its_own_column_names():
    sections = parse_report(RECORDED_ROOTLESS.read_text(encoding="utf-8"))
    assert list(sections) == ["rootless"]
    part = sections["rootless"]
    assert part.pitfall == "Privileged docker-in-docker means trusting the job"
    pairs = part.pairs()
    assert pairs[one(pairs, "RUN go build std")] == ("cached", "cached")
    assert pairs[one(pairs, "COPY . .")] == ("executed", "executed")
    assert part.compiled() == {"good": 1, "bad": 1}
    assert part.ran_as().startswith("moby/buildkit:")
    assert "--cap-add SETUID --cap-add SETGID" in part.ran_as()
    assert part.sentence().startswith("Each builder rebuilt from the cache the other wrote")
    # A scenario that started no rootless BuildKit has no such line.
    assert parse_report(RECORDED.read_text(encoding="utf-8"))["arg-at-top"].ran_as() == ""
