"""Tidy up after generation.

The explainer is optional: its file name renders empty when it is not wanted, so
cookiecutter skips it, but the docs/ directory around it is still created. Remove
that directory when nothing ended up in it. Nothing else is deleted here.
"""

from __future__ import annotations

from pathlib import Path


def remove_empty_docs_dir(project_dir: Path) -> None:
    docs = project_dir / "docs"
    if docs.is_dir() and not any(docs.iterdir()):
        docs.rmdir()


if __name__ == "__main__":
    # Cookiecutter runs post-generation hooks inside the generated project.
    remove_empty_docs_dir(Path.cwd())
