"""Tidy up after generation.

Optional single files (the explainer, renovate.json, shared-buildkit.yaml) have names
that render empty when they are not wanted, so cookiecutter never writes them. A
directory cannot be left out that way (cookiecutter refuses a directory name that
renders to an existing path), so the optional teaching kit, `tools/cachedemo/`, is
generated and then removed here when `include_cache_demo` is false, together with a
`tools/` folder it leaves empty. The pre-generation hook has already checked that the
answer is a boolean. Nothing else is deleted.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

# The answer, as JSON inside a raw string: data, never code.
INCLUDE_CACHE_DEMO_JSON = r"""{{ cookiecutter.include_cache_demo | tojson }}"""

CACHE_DEMO = Path("tools", "cachedemo")


def remove_cache_demo(project_dir: Path) -> None:
    demo = project_dir / CACHE_DEMO
    if demo.is_dir():
        shutil.rmtree(demo)
    tools = demo.parent
    if tools.is_dir() and not any(tools.iterdir()):
        tools.rmdir()


def tidy(project_dir: Path, *, include_cache_demo: bool) -> None:
    if not include_cache_demo:
        remove_cache_demo(project_dir)


if __name__ == "__main__":
    # Cookiecutter runs post-generation hooks inside the generated project.
    tidy(Path.cwd(), include_cache_demo=json.loads(INCLUDE_CACHE_DEMO_JSON) is True)
