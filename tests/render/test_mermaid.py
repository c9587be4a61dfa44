"""The diagrams of the generated docs: valid Mermaid, and true to the files they draw.

Every ```mermaid block of README.md and every docs/*.md, wherever it sits, for every
option combination, goes through Mermaid's own parser (pinned in tools/node;
harness/docs_checks/mermaid.py). A broken copy of a real diagram must be rejected, so the check
can fail. Then the diagrams are read back: the cache refs each pipeline reads and
writes must be the refs the rendered CI rules give, the Dockerfile diagram must list
the Dockerfile's steps in order and mark exactly the steps a source change reruns,
and the CI job diagram must name the images the CI file pins.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from harness.ci.ci_file import CiFile
from harness.docs_checks import mermaid
from harness.evidence.dockerfile_steps import RERUN_BY_SOURCE_CHANGE
from harness.infra.policy import unavailable
from harness.template import COMBINATIONS, combination_id, pins

# The pipelines the cache diagrams show (a merge request shares the branch node), and the
# rule of the build job each one meets.
PIPELINE_KINDS = {"default_branch": "default", "branch": "branch", "tag": "tag"}


@pytest.fixture(scope="module")
def parser() -> None:
    problem = mermaid.parser_problem()
    if problem:
        unavailable("Mermaid's parser", problem, "Run `npm ci --prefix tools/node`")


def diagrams(project: Path) -> dict[str, list[str]]:
    """Doc path -> its Mermaid sources, for every doc the project has."""
    docs = [project / "README.md", *sorted((project / "docs").glob("*.md"))]
    return {
        doc.relative_to(project).as_posix(): mermaid.blocks(doc.read_text(encoding="utf-8"))
        for doc in docs
    }


def cache_diagrams(project: Path) -> list[str]:
    return [d for found in diagrams(project).values() for d in found if "tag -.->" in d]


@pytest.fixture(scope="module")
def every_diagram(bake) -> dict[str, str]:
    """One entry per distinct diagram: "<combination> <doc> #<n>" -> its source."""
    found: dict[str, str] = {}
    for overrides in COMBINATIONS:
        for doc, sources in diagrams(bake(overrides)).items():
            for number, source in enumerate(sources, 1):
                if source not in found.values():
                    found[f"{combination_id(overrides)} {doc} #{number}"] = source
    return found


def test_every_diagram_parses(parser, every_diagram: dict[str, str]):
    results = mermaid.check(list(every_diagram.values()))
    failed = {
        name: result.error
        for name, result in zip(every_diagram, results, strict=True)
        if not result.ok or result.diagram_type != "flowchart-v2"
    }
    assert failed == {}, "\n\n".join(f"{name}:\n{error}" for name, error in failed.items())


def test_the_parser_rejects_a_broken_diagram(parser, every_diagram: dict[str, str]):
    """The same check on diagrams that are wrong: an unclosed node, an unclosed label."""
    source = next(d for d in every_diagram.values() if "|reads|" in d)
    unclosed_node = re.sub(r'"\]', '"', source, count=1)
    unclosed_label = source.replace("|reads|", "|reads", 1)
    results = mermaid.check([source, unclosed_node, unclosed_label])
    assert [r.ok for r in results] == [True, False, False], results


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_every_doc_has_its_diagrams(bake, overrides):
    found = {doc: sources for doc, sources in diagrams(bake(overrides)).items() if sources}
    assert len(found.pop("docs/pipeline.md", [])) == 1, "docs/pipeline.md: the cache refs diagram"
    if "docs/jargon.md" in found:
        assert len(found.pop("docs/jargon.md")) == 3, "jargon.md: CI job, Dockerfile, cache refs"
    assert found == {}, "diagrams in docs the test does not know"


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_cache_diagram_draws_the_ci_rules(bake, overrides):
    project = bake(overrides)
    job = CiFile.of(project).build_job
    for diagram in cache_diagrams(project):
        labels = mermaid.nodes(diagram)
        drawn: dict[str, dict[str, list[str]]] = {}
        for edge in mermaid.edges(diagram):
            kind = "writes" if edge.arrow == "==>" else "reads"
            drawn.setdefault(edge.src, {"reads": [], "writes": []})[kind].append(
                (edge.label, labels[edge.dst])
            )
        assert set(drawn) == set(PIPELINE_KINDS), diagram
        for pipeline, kind in PIPELINE_KINDS.items():
            refs = job.cache_refs(kind, "cache", "$CI_COMMIT_REF_SLUG")
            reads = [ref for _, ref in sorted(drawn[pipeline]["reads"])]  # "reads 1st" < "2nd"
            writes = [ref for _, ref in drawn[pipeline]["writes"]]
            assert reads == list(refs.read), f"{pipeline}: drawn {reads}, rules {refs.read}"
            assert writes == ([refs.write] if refs.write else []), f"{pipeline}: {writes}"


def test_dockerfile_diagram_draws_the_dockerfile(default_project: Path):
    (diagram,) = [d for d in diagrams(default_project)["docs/jargon.md"] if "classDef" in d]
    labels = mermaid.nodes(diagram)
    drawn = [label.split("<br/>")[0] for label in labels.values() if " " in label]
    drawn = [text for text in drawn if text.split()[0] in {"WORKDIR", "COPY", "RUN"}]
    dockerfile = (default_project / "Dockerfile").read_text(encoding="utf-8")
    steps = [
        " ".join(line.split())
        for line in re.findall(r"^((?:WORKDIR|COPY|RUN) .*)$", dockerfile, re.MULTILINE)
    ]
    assert len(drawn) == len(steps), f"drawn {drawn}, Dockerfile {steps}"
    for text, step in zip(drawn, steps, strict=True):
        assert step.startswith(text.removesuffix("...")), f"{text!r} is not {step!r}"
    (rerun,) = re.findall(r"^\s*class (\S+) rerun$", diagram, re.MULTILINE)
    marked = [labels[node].split("<br/>")[0] for node in rerun.split(",")]
    expected = [prefix for _, prefix in RERUN_BY_SOURCE_CHANGE]
    assert [any(m.startswith(p) for m in marked) for p in expected] == [True] * len(expected)
    assert len(marked) == len(expected), marked


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_ci_job_diagram_names_the_pinned_images(bake, overrides):
    project = bake(overrides)
    if not (project / "docs/jargon.md").is_file():
        return
    (diagram,) = [d for d in diagrams(project)["docs/jargon.md"] if "runner host" in d]
    job = CiFile.of(project).build_job.spec

    def unprefixed(image: str) -> str:
        return image.replace("${IMAGE_PREFIX}", "")

    if "services" in job:
        assert f"job container: {unprefixed(job['image'])}" in diagram
        (service,) = job["services"]
        assert f"service container: {unprefixed(service['name'])}, privileged" in diagram
        assert f"moby/buildkit:{pins()['buildkit']}" in diagram
    elif isinstance(job["image"], str):  # the shared builder: only its client runs here
        assert f"job container: {unprefixed(job['image'])}, not privileged" in diagram
        assert "remote driver" in diagram and "mutual TLS" in diagram
    else:
        image = job["image"]["name"].replace(
            "${BUILDKIT_IMAGE}", f"moby/buildkit:{pins()['buildkit']}"
        )
        assert f"job container: {unprefixed(image)}, uid 1000, not privileged" in diagram
