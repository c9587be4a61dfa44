"""A baked project as a runner checks it out: committed to git, then cloned under the
umask of the runner that runs the job.

GitLab Runner's docker and Kubernetes executors clone under `umask 0000` (files 0666,
directories 0777) unless FF_DISABLE_UMASK_FOR_DOCKER_EXECUTOR or
FF_DISABLE_UMASK_FOR_KUBERNETES_EXECUTOR is true; shell executors and laptops usually
clone under 0022 (files 0644, directories 0755). git writes a file's mode as 0666 or,
for an executable, 0777, less the umask, so two checkouts of one commit differ in
their modes only.

`Repository(path).commit(message)` commits everything under `path`;
`committed_copy(baked, path)` commits an exact copy of a baked project (with
`script=True`, plus an executable script, which the template itself does not have);
`clone_with_umask(repository, target, umask)` clones it as a runner would;
`checkout(repository, parent, "runner" | "laptop")` with the umask of either;
`both_ways(baked, parent, cold_ref, runner_ref)` the two builds of the checkout-mode
proof that every builder's tests make.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from dataclasses import dataclass
from pathlib import Path

from harness.infra.commands import run

# A runner's docker or Kubernetes executor with its umask flag off (the default), and
# a shell executor or a laptop.
RUNNER_UMASK = 0o000
LAPTOP_UMASK = 0o022
GIT_IDENTITY = ("-c", "user.name=gotpl test", "-c", "user.email=test@example.invalid")
UMASKS = {"runner": RUNNER_UMASK, "laptop": LAPTOP_UMASK}
# A script kept executable in git: a checkout gives it 0777 or 0755.
SCRIPT = "scripts/check.sh"


class Repository:
    """A git repository in `path`, made on first use."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def git(self, *args: str) -> str:
        return run(["git", *GIT_IDENTITY, "-C", str(self.path), *args]).stdout

    def commit(self, message: str) -> str:
        """Commit every file under the path (made a repository if it is none) and
        return the commit's SHA."""
        if not (self.path / ".git").exists():
            self.git("init", "--quiet", "--initial-branch", "main")
        self.git("add", "--all")
        self.git("commit", "--quiet", "--allow-empty", "--message", message)
        return self.git("rev-parse", "HEAD").strip()


def committed_copy(baked: Path, path: Path, *, script: bool = False) -> Repository:
    """A copy of a baked project in `path`, committed once. With `script`, the commit
    also holds SCRIPT, kept executable in git; without, it holds the bake's files only."""
    shutil.copytree(baked, path)
    if script:
        added = path / SCRIPT
        added.parent.mkdir()
        added.write_text("#!/bin/sh\necho checked\n", encoding="utf-8")
        added.chmod(0o755)
    repository = Repository(path)
    repository.commit("one commit, two checkouts")
    return repository


def checkout(repository: Repository, parent: Path, kind: str) -> Path:
    """The repository checked out into parent/kind as a "runner" or a "laptop" would."""
    return clone_with_umask(repository, parent / kind, UMASKS[kind])


def clone_with_umask(repository: Repository, target: Path, umask: int) -> Path:
    """`git clone` of the repository's HEAD into `target`, run under `umask`."""
    subprocess.run(
        ["git", "clone", "--quiet", str(repository.path), str(target)],
        check=True,
        capture_output=True,
        preexec_fn=lambda: os.umask(umask),
    )
    return target


def tree(root: Path) -> dict[str, tuple[int, bytes]]:
    """(permission bits, content; b"" for a directory) of everything under root but
    .git, by path: what a build context made of root holds, .dockerignore aside."""
    return {
        relative: (mode, b"" if (root / relative).is_dir() else (root / relative).read_bytes())
        for relative, mode in modes(root).items()
    }


def modes(root: Path) -> dict[str, int]:
    """Permission bits of every file and directory under root (but .git), by path."""
    found: dict[str, int] = {}
    for path in [root, *root.rglob("*")]:
        relative = path.relative_to(root).as_posix()
        if relative == ".git" or relative.startswith(".git/"):
            continue
        found[relative] = stat.S_IMODE(path.lstat().st_mode)
    return found


@dataclass(frozen=True)
class ModesBuild:
    """One build of the checkout-mode proof: a checkout, the one cache it reads, and the
    ref it writes ("" for none)."""

    kind: str
    context: Path
    cache_from: str
    cache_to: str


def both_ways(baked: Path, parent: Path, cold_ref: str, runner_ref: str) -> list[ModesBuild]:
    """The bake committed as it is, then: a runner's checkout reading only `cold_ref`
    (a cache built from the bake) and writing `runner_ref`, and a laptop's checkout
    reading only `runner_ref`. The bake must be a laptop checkout file for file (it is:
    cookiecutter writes under umask 0022), which is checked here, so `cold_ref` came
    from a laptop's modes."""
    repository = committed_copy(baked, parent / "origin")
    laptop = checkout(repository, parent, "laptop")
    assert tree(laptop) == tree(baked), "the bake is no laptop checkout"
    return [
        ModesBuild("runner", checkout(repository, parent, "runner"), cold_ref, runner_ref),
        ModesBuild("laptop", laptop, runner_ref, ""),
    ]
