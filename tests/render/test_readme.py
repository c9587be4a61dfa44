"""README's two commands are the ones that work: the generate command is run here,
and the test command is the one .ci/run calls."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys

from harness.paths import REPO_ROOT
from harness.template import default, prompts

README = (REPO_ROOT / "README.md").read_text(encoding="utf-8")


def two_commands() -> list[str]:
    section = README.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", section, flags=re.DOTALL)


def test_there_are_exactly_two_commands():
    assert len(two_commands()) == 2


def test_generate_command_generates_the_default_project(tmp_path):
    generate = two_commands()[0]
    install, run = generate.split(" && ")
    assert install.startswith("python3 -m pip install 'cookiecutter")
    args = shlex.split(run)
    assert args[:4] == ["cookiecutter", "--no-input", "--output-dir", "/tmp/demo"]
    args[3] = str(tmp_path)  # the same command, into a folder of the test's own
    result = subprocess.run(
        [sys.executable, "-m", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "my-service" / "Dockerfile").is_file()


def test_ci_runs_the_test_command():
    test_command = two_commands()[1].strip()
    ci_script = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert test_command in ci_script.splitlines()


def test_prompt_table_shows_the_defaults_of_cookiecutter_json():
    """README's prompt table is typed by hand; its defaults must be cookiecutter.json's."""
    rows = dict(re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", README, flags=re.MULTILINE))
    for name, value in prompts().items():
        if isinstance(value, str) and "{{" in value:
            continue  # derived from other answers; the table describes it in words
        expected = json.dumps(default(name)) if isinstance(default(name), bool) else default(name)
        assert rows.get(name) == str(expected), (
            f"README shows {name} = {rows.get(name)!r}, cookiecutter.json has {expected!r}"
        )
