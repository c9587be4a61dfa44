"""The maintainers' pages point at files that exist, and the code stays readable.

README.md, CONTRIBUTING.md, TESTING.md and the READMEs of testbed/, bench/ and
harness/ name files and modules; when a change moves one, this test names the page
that still points at the old place. Every source file of the repository stays within
400 lines, so that each can be read in one sitting.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from harness.paths import REPO_ROOT, TEMPLATE_DIR

PAGES = [
    "README.md",
    "CONTRIBUTING.md",
    "TESTING.md",
    "testbed/README.md",
    "bench/README.md",
    "harness/README.md",
]
LINK_RE = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
# Repository paths in code spans: `harness/ci/ci_file.py`, `tests/docker/test_cache.py`.
PATH_RE = re.compile(r"`((?:harness|tests|testbed|bench|hooks|templates|tools)/[\w./-]+?)`")
SOURCE_SUFFIXES = {".py", ".go", ".sh", ".mjs", ".yml", ".yaml", ".toml"}
MAX_LINES = 400


@pytest.mark.parametrize("page", PAGES)
def test_links_and_paths_exist(page: str):
    path = REPO_ROOT / page
    text = path.read_text(encoding="utf-8")
    missing = [
        f"link {target}"
        for target in LINK_RE.findall(text)
        if "://" not in target and not (path.parent / target).exists()
    ]
    missing += [
        f"path {name}"
        for name in PATH_RE.findall(text)
        if "<" not in name
        and "*" not in name
        # a path of this repository, or of the generated project (`tools/cachedemo/`)
        and not any((root / name.rstrip("/")).exists() for root in (REPO_ROOT, TEMPLATE_DIR))
    ]
    assert missing == [], f"{page} names what the repository does not have: {missing}"


def tracked_files() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True
    ).stdout.decode()
    return [REPO_ROOT / name for name in listed.split("\0") if name]


def test_no_source_file_is_over_400_lines():
    long = {
        str(path.relative_to(REPO_ROOT)): lines
        for path in tracked_files()
        if path.suffix in SOURCE_SUFFIXES and path.is_file()
        for lines in [len(path.read_text(encoding="utf-8").splitlines())]
        if lines > MAX_LINES
    }
    assert long == {}, f"files over {MAX_LINES} lines: {long}"
