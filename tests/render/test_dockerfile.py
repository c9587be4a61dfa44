"""The generated Dockerfile: parsed instruction by instruction, then linted by hadolint."""

from __future__ import annotations

import fnmatch
import json
import subprocess
from pathlib import Path

import pytest
from dockerfile_parse import DockerfileParser

from harness.infra.policy import require_tool
from harness.template import COMBINATIONS, combination_id, go_image, other_choice, runtime_image


def instructions(project: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, value) pairs in order, comments dropped, continuations joined."""
    parser = DockerfileParser(path=str(project / "Dockerfile"))
    return [
        (i["instruction"], i["value"]) for i in parser.structure if i["instruction"] != "COMMENT"
    ]


def stages(project: Path) -> dict[str, list[tuple[str, str]]]:
    """Instructions grouped by stage name (the part after AS)."""
    grouped: dict[str, list[tuple[str, str]]] = {"(global)": []}
    current = "(global)"
    for instruction, value in instructions(project):
        if instruction == "FROM":
            current = value.split(" AS ")[-1]
            grouped[current] = []
        grouped[current].append((instruction, value))
    return grouped


def index_of(steps: list[tuple[str, str]], instruction: str, startswith: str = "") -> int:
    for number, (name, value) in enumerate(steps):
        if name == instruction and value.startswith(startswith):
            return number
    raise AssertionError(f"no {instruction} {startswith!r} in {steps}")


def test_stages_and_base_images(default_project):
    grouped = stages(default_project)
    assert list(grouped) == ["(global)", "checkout", "std", "builder", "runtime"]
    assert grouped["(global)"] == [
        ("ARG", f"GO_IMAGE={go_image()}"),
        ("ARG", f"RUNTIME_IMAGE={runtime_image()}"),
    ]
    assert grouped["checkout"][0] == ("FROM", "--platform=$BUILDPLATFORM scratch AS checkout")
    assert grouped["std"][0] == ("FROM", "--platform=$BUILDPLATFORM ${GO_IMAGE} AS std")
    assert grouped["builder"][0] == ("FROM", "--platform=$BUILDPLATFORM ${GO_IMAGE} AS builder")
    assert grouped["runtime"][0] == ("FROM", "${RUNTIME_IMAGE} AS runtime")


@pytest.mark.parametrize(
    ("overrides", "go_image", "runtime_image"),
    [
        ({"go_version": "1.23"}, "golang:1.23", runtime_image()),
        ({"go_version": "1.26"}, go_image("1.26"), runtime_image()),
        (
            {"runtime_image_tag": other_choice("runtime_image_tag")},
            go_image(),
            runtime_image(other_choice("runtime_image_tag")),
        ),
    ],
)
def test_base_images_follow_the_answers(bake, overrides, go_image, runtime_image):
    assert stages(bake(overrides))["(global)"] == [
        ("ARG", f"GO_IMAGE={go_image}"),
        ("ARG", f"RUNTIME_IMAGE={runtime_image}"),
    ]


def test_only_the_checkout_stage_reads_the_build_context(default_project):
    """The checkout stage copies the build context with modes of its own (the runner's
    umask leaves files 0666, a laptop's 0644); every other COPY takes its files from a
    stage, so no cache key past the checkout stage holds the checkout's modes."""
    grouped = stages(default_project)
    assert grouped["checkout"][1:] == [("COPY", "--chmod=u=rwX,go=rX . /")]
    for stage, steps in grouped.items():
        for name, value in steps:
            if name in {"COPY", "ADD"} and stage != "checkout":
                flags = [word for word in value.split() if word.startswith("--")]
                assert any(flag.startswith("--from=") for flag in flags), f"{stage}: {value}"
    builder = grouped["builder"]
    copies = [value for name, value in builder if name == "COPY" and "--from=checkout" in value]
    assert copies == ["--from=checkout /go.mod /go.sum ./", "--from=checkout / ."]


def test_dependencies_come_before_the_source(default_project):
    builder = stages(default_project)["builder"]
    copy_mod = index_of(builder, "COPY", "--from=checkout /go.mod /go.sum")
    download = index_of(builder, "RUN", "go mod download")
    std_copy = index_of(builder, "COPY", "--link --from=std ")
    deps = index_of(builder, "RUN", "deps=")
    copy_all = index_of(builder, "COPY", "--from=checkout / .")
    compile_ = index_of(builder, "RUN", "go build -ldflags")
    assert copy_mod < download < std_copy < deps < copy_all < compile_


def test_std_stage_compiles_the_standard_library_without_go_mod(default_project):
    """The std stage sees no file of the project, so only a new Go image or new
    settings rerun it; the builder stage takes its Go build cache as a linked layer."""
    std = stages(default_project)["std"]
    assert [name for name, _ in std] == ["FROM", "ARG", "ENV", "RUN"]
    assert std[-1] == ("RUN", "go build std")
    builder = stages(default_project)["builder"]
    # The go command's default GOCACHE for root, in both stages.
    cache = "/root/.cache/go-build"
    assert builder[index_of(builder, "COPY", "--link --from=std ")] == (
        "COPY",
        f"--link --from=std {cache} {cache}",
    )


def test_commit_args_are_declared_right_before_their_use(default_project):
    """An ARG joins the cache key of every later RUN: nothing may run between the
    commit ARGs and the compile step, and no earlier step may see them."""
    builder = stages(default_project)["builder"]
    compile_ = index_of(builder, "RUN", "go build -ldflags")
    assert builder[compile_ - 2 : compile_] == [
        ("ARG", "VERSION=dev"),
        ("ARG", "GIT_COMMIT=unknown"),
    ]
    earlier = [value for name, value in builder[: compile_ - 2] if name in {"ARG", "ENV"}]
    assert not any("GIT_COMMIT" in value or "VERSION" in value for value in earlier)


def test_warm_up_uses_the_final_builds_settings(default_project):
    builder = stages(default_project)["builder"]
    envs = [value for name, value in builder if name == "ENV"]
    assert envs[0] == 'CGO_ENABLED=0 GOFLAGS="-trimpath -buildvcs=false"'
    assert envs[1] == "GOOS=$TARGETOS GOARCH=$TARGETARCH"
    assert index_of(builder, "ENV", "GOOS") < index_of(builder, "RUN", "deps=")
    # The std stage compiles with the very same settings, from the same targets.
    std = stages(default_project)["std"]
    assert ("ARG", "TARGETOS TARGETARCH") in std
    assert [value for name, value in std if name == "ENV"] == [f"{envs[0]} {envs[1]}"]
    compile_cmd = builder[index_of(builder, "RUN", "go build -ldflags")][1]
    assert compile_cmd == (
        'go build -ldflags="-s -w -X main.version=${VERSION} -X main.commit=${GIT_COMMIT}" '
        "-o /out/app ."
    )
    # The only compile flags not shared through ENV are linker flags, which do not
    # change the compiled packages the warm-up left in Go's build cache.
    for warm_up in (std[-1][1], builder[index_of(builder, "RUN", "deps=")][1]):
        assert "-ldflags" not in warm_up and "-gcflags" not in warm_up and "-tags" not in warm_up


def test_runtime_stage(default_project):
    runtime = stages(default_project)["runtime"]
    assert ("COPY", "--from=builder /out/app /app") in runtime
    # Numeric: Kubernetes' runAsNonRoot check refuses a container whose user is a name.
    assert ("USER", "65532:65532") in runtime
    assert ("EXPOSE", "8080") in runtime
    (entrypoint,) = [value for name, value in runtime if name == "ENTRYPOINT"]
    assert json.loads(entrypoint) == ["/app"], "exec form: the binary is PID 1 and gets SIGTERM"
    assert not any(name == "RUN" for name, _ in runtime), "distroless has no shell to RUN"


def test_port_follows_the_answer(bake):
    assert ("EXPOSE", "9090") in stages(bake({"http_port": "9090"}))["runtime"]


def test_commit_labels_come_last(default_project):
    """Labels change with every commit; after them there must be no layer-making step."""
    runtime = stages(default_project)["runtime"]
    assert runtime[-3:-1] == [("ARG", "VERSION=dev"), ("ARG", "GIT_COMMIT=unknown")]
    name, _ = runtime[-1]
    assert name == "LABEL"
    parser = DockerfileParser(
        path=str(default_project / "Dockerfile"),
        build_args={"GIT_COMMIT": "c0ffee", "VERSION": "1.2.3"},
    )
    assert parser.labels["org.opencontainers.image.revision"] == "c0ffee"
    assert parser.labels["git_commit"] == "c0ffee"
    assert parser.labels["org.opencontainers.image.version"] == "1.2.3"


def test_every_step_has_a_reason(default_project):
    """Each non-obvious instruction carries a comment on the lines just above it."""
    lines = (default_project / "Dockerfile").read_text(encoding="utf-8").splitlines()
    needs_why = (
        "FROM --platform",
        "ENV ",
        "COPY --from=checkout",
        "ARG TARGETOS",
        "RUN go build std",
        "COPY --link",
        "RUN deps=",
        "ARG VERSION",
        "USER ",
        "HEALTHCHECK",
        "LABEL",
    )
    for number, line in enumerate(lines):
        if line.startswith(needs_why):
            above = lines[number - 1]
            assert above.startswith("#") or lines[number - 1].startswith(("ARG", "ENV")), (
                f"line {number + 1} has no comment above it: {line}"
            )


@pytest.mark.parametrize("overrides", COMBINATIONS, ids=combination_id)
def test_hadolint_is_clean(bake, overrides):
    hadolint = require_tool("hadolint")
    project = bake(overrides)
    result = subprocess.run(
        [hadolint, "--no-color", "Dockerfile"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_the_context_stable(default_project):
    ignored = {
        line.strip()
        for line in (default_project / ".dockerignore").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    }
    # .git changes on every commit; the Dockerfile and CI file are not inputs of the binary.
    assert {".git", "Dockerfile", ".gitlab-ci.yml", "docs/"} <= ignored
    # Tests are not inputs of the binary either, and neither are the tests, READMEs and
    # test data of subpackages: a pattern without **/ matches only at the root of the
    # context (Docker's .dockerignore rules), so these must be recursive. Without the
    # demo, nothing names tools/.
    assert {"**/*_test.go", "**/*.md", "**/testdata/"} <= ignored
    assert "tools/" not in ignored
    assert not ignored & {"*_test.go", "*.md"}, "a root-only pattern for tests or docs"
    assert not ignored & {"go.mod", "go.sum", "*.go", "**/*.go"}


def test_dockerignore_leaves_out_every_file_the_binary_does_not_need(bake):
    """Whatever the choices, a file of the baked project that no Go build reads is in
    .dockerignore: editing it must not rerun the checkout stage, the source copy and the
    compile."""
    for overrides in (
        {"builder": "shared"},
        {"builder": "rootless", "use_renovate": True},
        {"include_cache_demo": True},
    ):
        project = bake(overrides)
        ignored = {
            line.strip().rstrip("/")
            for line in (project / ".dockerignore").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")
        }
        for path in project.iterdir():
            name = path.name
            if (name.endswith(".go") and not name.endswith("_test.go")) or name in (
                "go.mod",
                "go.sum",
            ):
                continue
            # At the root, `**/` matches zero directories.
            covered = any(fnmatch.fnmatchcase(name, p.removeprefix("**/")) for p in ignored)
            assert covered, f"{name} ({overrides}) is part of the build context"
