"""The pre-generation hook rejects every kind of bad answer, and leaves nothing behind."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from harness.ci.ci_file import CiFile
from harness.infra.policy import require_tool
from harness.paths import HOOKS_DIR, REPO_ROOT
from harness.template import choices, default, go_toolchain, prompts


def load_hook() -> ModuleType:
    """Import the unrendered hook file as a module (it is plain Python until rendered)."""
    spec = importlib.util.spec_from_file_location(
        "pre_gen_project", HOOKS_DIR / "pre_gen_project.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


hook = load_hook()


@pytest.fixture
def answers() -> dict:
    """A complete, valid set of answers (what cookiecutter passes with the defaults)."""
    derived = {"project_slug": "my-service", "go_module_path": "gitlab.com/your-group/my-service"}
    return {key: derived.get(key) or default(key) for key in prompts()}


def test_defaults_are_valid(answers):
    assert hook.validate(answers) == []


def test_the_hook_checks_every_prompt():
    prompts = json.loads((REPO_ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
    asked = {key for key in prompts if not key.startswith("_")}
    assert asked == set(hook.CHECKS), "every prompt needs a check, and every check a prompt"


def test_the_hook_allows_exactly_the_choices_of_cookiecutter_json():
    """The hook keeps its own lists (it runs without cookiecutter.json): they must agree."""
    offered = {key: value for key, value in prompts().items() if isinstance(value, list)}
    assert {key: list(value) for key, value in hook.CHOICES.items()} == {
        key: choices(key) for key in offered
    }


VALID = [
    ("project_name", 'Ünïcødé 服务 "quoted" \\ $(rm -rf /) {{ x }}'),
    ("project_slug", "a"),
    ("project_slug", "payments-api-2"),
    ("go_module_path", "example.com/Team/svc.v2"),
    ("go_module_path", "svc"),
    ("go_private_modules", "gitlab.example.com"),
    ("go_private_modules", "gitlab.example.com/team,git.corp.example/x/y.v2"),
    ("go_version", "1.22"),
    ("go_version", "1.30"),
    ("http_port", "1024"),
    ("http_port", 65535),
    ("docker_version", "24.0.9"),
    ("default_branch", "release/2.x"),
    ("default_branch", "Dev_Branch"),
    ("runtime_image_tag", "latest"),
    ("cache_strategy", "shared"),
    ("platforms", "linux/amd64,linux/arm64"),
    ("use_dependency_proxy", True),
]

INVALID = [
    # (field, value, words the message must contain)
    ("project_name", "", "empty"),
    ("project_name", "   ", "empty"),
    ("project_name", "x" * 101, "at most 100"),
    ("project_name", "two\nlines", "U+000A"),
    ("project_name", "bell\x07", "U+0007"),
    ("project_name", "bidi\u202eoverride", "U+202E"),
    ("project_name", "line\u2028separator", "U+2028"),
    ("project_slug", "", "empty"),
    ("project_slug", "My-Service", "lower-case"),
    ("project_slug", "my_service", "lower-case"),
    ("project_slug", "-leading", "single hyphens"),
    ("project_slug", "double--hyphen", "single hyphens"),
    ("project_slug", "trailing-", "single hyphens"),
    ("project_slug", "../escape", "lower-case"),
    ("project_slug", "x" * 64, "at most 63"),
    ("project_slug", "café", "lower-case"),
    ("go_module_path", "", "empty"),
    ("go_module_path", "gitlab.com//x", "empty element"),
    ("go_module_path", "gitlab.com/x/", "empty element"),
    ("go_module_path", "gitlab.com/a b", "not allow"),
    ("go_module_path", "gitlab.com/$(id)", "not allow"),
    ("go_module_path", "GitLab.com/x", "first element"),
    ("go_module_path", "gitlab.com/.hidden", "dot"),
    ("go_module_path", "-bad/x", "first element"),
    ("go_private_modules", "gitlab.example.com/*", "pattern"),
    ("go_private_modules", "*.corp.example.com", "pattern"),
    ("go_private_modules", "gitlab.example.com,", "empty entry"),
    ("go_private_modules", "a.example/x,,b.example", "empty entry"),
    ("go_private_modules", "gitlab/team", "host name"),
    ("go_private_modules", "gitlab.example.com/a b", "not allow"),
    ("go_private_modules", "gitlab.example.com/$(id)", "not allow"),
    ("go_private_modules", 'x.example/"quoted"', "not allow"),
    ("go_private_modules", "GitLab.example.com/x", "first element"),
    ("go_private_modules", "gitlab.example.com//x", "empty element"),
    ("go_version", "1.21", "1.22 or newer"),
    ("go_version", "1.24.3", "1.N"),
    ("go_version", "go1.24", "1.N"),
    ("go_version", "2.0", "1.N"),
    ("go_version", "", "1.N"),
    ("http_port", "80", "outside"),
    ("http_port", "70000", "outside"),
    ("http_port", "80a", "whole number"),
    ("http_port", "-1", "whole number"),
    ("http_port", "٨٠٨٠", "whole number"),
    ("http_port", True, "whole number"),
    ("docker_version", "latest", "pinned"),
    ("docker_version", "28.3", "pinned"),
    ("docker_version", "28.3.0-dind", "pinned"),
    ("docker_version", "20.10.24", "too old"),
    ("default_branch", "", "empty"),
    ("default_branch", "feature branch", "characters"),
    ("default_branch", "a..b", "git does not allow"),
    ("default_branch", "-main", "git does not allow"),
    ("default_branch", "main.lock", "git does not allow"),
    ("default_branch", "main/", "git does not allow"),
    ("default_branch", "$(reboot)", "characters"),
    ("default_branch", "---", "git does not allow"),
    ("runtime_image_tag", "debug", "choose one of: nonroot, latest"),
    ("cache_strategy", "none", "choose one of"),
    ("platforms", "linux/s390x", "choose one of"),
    ("use_dependency_proxy", "yes", "true or false"),
    ("include_explainer", 1, "true or false"),
]


@pytest.mark.parametrize(("field", "value"), VALID, ids=[f"{f}={v!r}"[:60] for f, v in VALID])
def test_valid_values_pass(answers, field, value):
    answers[field] = value
    assert hook.validate(answers) == []


@pytest.mark.parametrize(
    ("field", "value", "words"), INVALID, ids=[f"{f}={v!r}"[:60] for f, v, _ in INVALID]
)
def test_invalid_values_fail_with_a_helpful_message(answers, field, value, words):
    answers[field] = value
    messages = hook.validate(answers)
    assert len(messages) == 1, messages
    message = messages[0]
    # The message names the field, shows the value, says why and how to fix it.
    assert message.startswith(f"{field}: {json.dumps(value)} is invalid: ")
    assert words in message
    assert "Fix: " in message


def test_every_problem_is_reported_at_once(answers):
    answers.update(project_slug="Bad Slug", http_port="1", go_version="x")
    fields = [message.split(":")[0] for message in hook.validate(answers)]
    assert fields == ["project_slug", "go_version", "http_port"]


def test_a_missing_answer_is_reported(answers):
    del answers["platforms"]
    assert hook.validate(answers) == [
        "platforms: missing from the answers (is the template complete?)"
    ]


# ---- Through cookiecutter itself --------------------------------------------------------


def run_cookiecutter(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--no-input",
            "-o",
            str(tmp_path),
            str(REPO_ROOT),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    "extra",
    [
        ["project_slug=Bad Slug"],
        ["http_port=80"],
        ["go_version=1.21"],
        ["docker_version=latest"],
        ["default_branch=a..b"],
        ["project_name=!!!"],  # nothing to derive a slug from
        ["go_module_path=gitlab.com//x"],
    ],
)
def test_invalid_answers_leave_nothing_on_disk(tmp_path, extra):
    result = run_cookiecutter(tmp_path, *extra)
    assert result.returncode != 0, result.stdout + result.stderr
    field = extra[0].split("=")[0]
    if field == "project_name":
        field = "project_slug"
    assert f"  - {field}: " in result.stderr, result.stderr
    assert "Nothing was generated" in result.stderr
    assert list(tmp_path.iterdir()) == [], "a half-made project was left behind"


def test_an_unknown_choice_is_refused(tmp_path):
    result = run_cookiecutter(tmp_path, "cache_strategy=none")
    assert result.returncode != 0
    assert list(tmp_path.iterdir()) == []


@pytest.fixture
def marker() -> Iterator[Path]:
    """A short absolute path (the name may hold 100 characters) that nothing should create."""
    folder = Path(tempfile.mkdtemp(prefix="p", dir="/tmp"))
    yield folder / "m"
    shutil.rmtree(folder, ignore_errors=True)


def hostile_name(marker: Path) -> str:
    """A project name full of quotes, backslashes, shell and template syntax (at most the
    100 characters allowed). It would create `marker` and `marker`2 if run by a shell."""
    return (
        f"E\"v'l \\ $(touch {marker}) `touch {marker}2` {{{{ x }}}} "
        '{% raw %} ${HOME} """ Ün 服务 😀'
    )


def bake_as_typed(tmp_path: Path, template: Path = REPO_ROOT, **answers: object) -> Path:
    """Generate with answers exactly as a user would type them at the prompts.

    Cookiecutter renders values given with --no-input or extra_context as templates
    (its own design), but keeps typed answers as they are. A replay file reproduces
    typed answers without a terminal: record one run, edit it, replay it.
    """
    config = tmp_path / "config.yaml"
    replay_dir = tmp_path / "replay"
    config.write_text(f"replay_dir: {json.dumps(str(replay_dir))}\n", encoding="utf-8")
    first = run_cookiecutter(tmp_path / "first", "--config-file", str(config))
    assert first.returncode == 0, first.stderr
    (replay_file,) = replay_dir.glob("*.json")
    replay = json.loads(replay_file.read_text(encoding="utf-8"))
    replay["cookiecutter"].update(answers)
    replay_file.write_text(json.dumps(replay), encoding="utf-8")
    out = tmp_path / "out"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            "--replay-file",
            str(replay_file),
            "-o",
            str(out),
            "--config-file",
            str(config),
            str(template),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    (project,) = out.iterdir()
    return project


def test_hostile_project_name_is_treated_as_data(tmp_path, marker):
    """A name full of quotes, backslashes, shell and template syntax changes nothing but text."""
    name = hostile_name(marker)
    project = bake_as_typed(tmp_path, project_name=name, project_slug="hostile")
    assert project.name == "hostile"
    assert not marker.exists() and not Path(f"{marker}2").exists(), "the name was executed"
    recorded = json.loads((project / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert recorded["project_name"] == name
    ci_text = (project / ".gitlab-ci.yml").read_text(encoding="utf-8")
    assert ci_text.splitlines()[0] == f"# GitLab CI for {name}."
    assert "build-image" in CiFile.of(project).config
    # The Go code stays valid: the name never reaches it.
    go = require_tool("go")
    vet = subprocess.run(
        [go, "vet", "./..."],
        cwd=project,
        env={**os.environ, "GOTOOLCHAIN": go_toolchain()},
        capture_output=True,
        text=True,
        check=False,
    )
    assert vet.returncode == 0, vet.stderr


def test_the_hook_rejects_a_hostile_value_without_running_it(tmp_path, marker, monkeypatch):
    """Invalid hostile input reaches the hook as data and is refused by it. (The marker
    path comes from the environment: a slug with "/" makes cookiecutter create folders
    before any hook runs, which is not what this test is about.)"""
    monkeypatch.setenv("GOTPL_MARKER", str(marker))
    with pytest.raises(AssertionError, match="project_slug"):
        bake_as_typed(tmp_path, project_slug="$(touch $GOTPL_MARKER) `touch ${GOTPL_MARKER}2`")
    assert not marker.exists() and not Path(f"{marker}2").exists()
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_the_marker_check_catches_an_unsafe_hook(tmp_path, marker):
    """The two tests above can fail: a copy of the template whose hook passes the name
    to a shell (the mistake they guard against) does create the marker."""
    template = tmp_path / "template"
    shutil.copytree(
        REPO_ROOT,
        template,
        ignore=shutil.ignore_patterns(".git", ".venv", "node_modules", "results", "*.egg-info"),
    )
    hook = template / "hooks" / "pre_gen_project.py"
    source = hook.read_text(encoding="utf-8")
    unsafe = source.replace(
        "    answers = json.loads(ANSWERS_JSON)\n",
        "    answers = json.loads(ANSWERS_JSON)\n"
        '    __import__("os").system("echo " + answers["project_name"])\n',
    )
    assert unsafe != source, "the hook's main() changed; update this test's edit"
    hook.write_text(unsafe, encoding="utf-8")
    bake_as_typed(tmp_path, template=template, project_name=hostile_name(marker))
    assert marker.exists(), "an unsafe hook ran the name, but the marker check saw nothing"


def test_the_hooks_own_choice_check_refuses_an_unknown_choice(tmp_path):
    """A replayed answer skips cookiecutter's own choice check: the hook must catch it."""
    with pytest.raises(AssertionError, match="choose one of: nonroot, latest"):
        bake_as_typed(tmp_path, runtime_image_tag="debug")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


def test_template_syntax_in_no_input_values_is_rendered_by_cookiecutter(tmp_path):
    """Cookiecutter's documented behaviour, pinned so README's warning stays true."""
    result = run_cookiecutter(tmp_path, "project_name=Calc {{ 6 * 7 }}")
    assert result.returncode == 0, result.stderr
    recorded = json.loads((tmp_path / "calc-42" / ".cookiecutter.json").read_text(encoding="utf-8"))
    assert recorded["project_name"] == "Calc 42"
