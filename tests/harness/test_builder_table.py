"""The table of builders names each of the template's builders once, and its benchmark
variants build with the builder they say."""

from __future__ import annotations

from bench.plan import VARIANTS
from harness.builders.table import BUILDERS
from harness.template import choices

# What bench/plan.py calls each builder.
BENCH_BUILDER = {"dind": "docker-container", "rootless": "rootless", "shared": "shared"}


def test_one_row_per_builder_choice():
    assert sorted(BUILDERS) == sorted(choices("builder"))


def test_bench_variant_builds_with_its_builder():
    by_key = {variant.key: variant for variant in VARIANTS}
    for name, row in BUILDERS.items():
        assert by_key[row.bench_variant].builder == BENCH_BUILDER[name], name
