"""Where things are in this repository."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
# The one directory whose name is a Jinja expression: the project cookiecutter renders.
(TEMPLATE_DIR,) = (path for path in REPO_ROOT.iterdir() if path.name.startswith("{{"))
# Jinja partials the project's files include (cookiecutter's templates/ folder).
PARTIALS_DIR = REPO_ROOT / "templates"
HOOKS_DIR = REPO_ROOT / "hooks"
COOKIECUTTER_JSON = REPO_ROOT / "cookiecutter.json"
# gitlab-ci-local, pinned by package.json and its lock file, installed with `npm ci`.
NODE_TOOLS = REPO_ROOT / "tools" / "node"
TESTBED = REPO_ROOT / "testbed" / "testbed.sh"
# Dockerfiles the tests and the benchmark build next to the template's own.
RECIPES = Path(__file__).resolve().parent / "recipes"
COMMON_RECIPE = RECIPES / "Dockerfile.common-recipe"


def text_files(root: Path) -> Iterator[Path]:
    """Every regular file under root that decodes as UTF-8 text."""
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        yield path
