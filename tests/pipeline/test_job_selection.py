"""Which jobs GitLab would run for each kind of event, as gitlab-ci-local reads the rules.

The intended rules (README.md, "Per-branch cache refs"): every branch push, merge
request and tag gets a pipeline with the test and build jobs; a push to a branch that
has an open merge request gets none, because the merge request pipeline covers it.
Both cache strategies select the same jobs; only the cache refs differ.

No Docker is needed: listing only evaluates rules.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.pipeline.emulator import (
    Event,
    GitLabCiLocal,
    GitRepo,
    merge_request,
    push,
    tag,
)

FEATURE = "feature/login"
RELEASE = "v1.2.3"
MERGE_REQUEST = "demo/my-service!7"
ALL_JOBS = {"go-test", "build-image"}

# event -> (pipeline created?, jobs that run)
EXPECTED: list[tuple[Event, bool, set[str]]] = [
    (push("main"), True, ALL_JOBS),
    (push(FEATURE), True, ALL_JOBS),
    (push(FEATURE, open_merge_request=MERGE_REQUEST), False, set()),
    (merge_request(FEATURE, "main", MERGE_REQUEST), True, ALL_JOBS),
    (tag(RELEASE), True, ALL_JOBS),
]


@pytest.fixture(scope="module", params=["per-branch", "shared"])
def listing(request, gitlab_ci_local_path, bake, tmp_path_factory) -> Iterator:
    strategy = request.param
    root = tmp_path_factory.mktemp(f"select-{strategy}")
    repo = GitRepo.from_baked(bake({"cache_strategy": strategy}), root / "project")
    repo.checkout(FEATURE, new_branch=True)
    repo.checkout(repo.default_branch)
    repo.tag(RELEASE)
    yield GitLabCiLocal(gitlab_ci_local_path, repo, root / "home")


@pytest.mark.parametrize(
    ("event", "created", "jobs"), EXPECTED, ids=[event.name for event, _, _ in EXPECTED]
)
def test_jobs_for_event(listing: GitLabCiLocal, event: Event, created: bool, jobs: set[str]):
    listing.repo.checkout(event.ref)
    try:
        pipeline, listed = listing.list_jobs(event)
    finally:
        listing.repo.checkout(listing.repo.default_branch)
    assert set(listed) == ALL_JOBS, f"the CI file defines other jobs: {sorted(listed)}"
    assert pipeline == created, (
        f"{event.name}: workflow rules {'blocked' if created else 'allowed'} the pipeline"
    )
    running = {job for job, when in listed.items() if when != "never"} if pipeline else set()
    assert running == jobs, f"{event.name}: jobs {sorted(running)}, want {sorted(jobs)}\n{listed}"
