"""The plain-progress reader (harness.evidence.plain_progress), on builds recorded by
`python -m harness.evidence.plain_fixtures` (data/plain/): a Dockerfile of three small
stages whose first RUN a later stage needs, so a rebuild that reads the registry cache
pulls and unpacks that step's layer under its own number (the trap step_table handles).
"""

from __future__ import annotations

from pathlib import Path

from harness.evidence.plain_progress import plain_step_table
from harness.evidence.step_table import CACHED, EXECUTED, step_table

PLAIN = Path(__file__).parent / "data" / "plain"


def read(name: str) -> str:
    return (PLAIN / name).read_text(encoding="utf-8")


def test_the_readers_agree_on_one_build_recorded_both_ways():
    plain = plain_step_table(read("source-change.txt"))
    rawjson = step_table(read("source-change.rawjson"))
    assert [s.label for s in plain] == [s.label for s in rawjson]
    assert [s.status for s in plain] == [s.status for s in rawjson]


def test_a_step_whose_layers_were_only_pulled_counts_as_cached():
    table = plain_step_table(read("source-change.txt"))
    (base_run,) = table.find("base", "RUN ")
    assert base_run.status == CACHED and base_run.reason, table.render()
    (copy_source,) = table.find("builder", "COPY src.txt")
    assert copy_source.status == EXECUTED, table.render()


def test_a_cold_build_runs_every_step():
    table = plain_step_table(read("cold.txt"))
    assert len(table.executed()) == 4, table.render()


def test_the_name_repeated_where_a_vertex_resumes_is_not_a_status():
    text = (
        "#5 [builder 2/2] RUN make\n#5 0.101 one\n#6 [other 1/1] RUN x\n"
        "#5 [builder 2/2] RUN make\n#5 0.202 two\n#5 DONE 0.3s\n#6 CACHED\n"
    )
    table = plain_step_table(text)
    (make,) = table.find("builder", "RUN make")
    assert make.status == EXECUTED and make.seconds == 0.3
    (other,) = table.find("other", "RUN x")
    assert other.status == CACHED
