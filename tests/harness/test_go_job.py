"""harness.golang.go_test_job's readers, on lines the go command wrote with -x (Go 1.26 here)."""

from __future__ import annotations

from harness.golang.go_test_job import (
    GoTrace,
    Requirement,
    escape_module_path,
    files_of,
    saved_caches,
)

TOOL = "/usr/local/go/pkg/tool/linux_amd64"


def compile_line(work: str, package: str, flags: str, files: str) -> str:
    """One compiler run as -x prints it (paths and build IDs shortened)."""
    return (
        f'{TOOL}/compile -o $WORK/{work}/_pkg_.a -trimpath "$WORK/{work}=>" -p {package} '
        f"{flags} -complete -pack {files}"
    )


LOG = "\n".join(
    [
        "$ go vet ./...",
        "WORK=/tmp/go-build123",
        "mkdir -p $WORK/b006/",
        "# get http://10.1.2.1:4321/golang.org/x/text/@v/v0.34.0.zip",
        "# get http://10.1.2.1:4321/golang.org/x/text/@v/v0.34.0.zip: 200 OK (0.004s)",
        compile_line("b006", "internal/goarch", "-lang=go1.26 -std", "goarch.go"),
        compile_line("b040", "github.com/go-chi/chi/v5", "-lang=go1.22", "./chi.go"),
        compile_line("b001", "main", "-lang=go1.24", "./main.go"),
        "packagefile github.com/google/uuid=/builds/demo/my-service/.go/build/69/69fd-d",
        f"{TOOL}/link -o $WORK/b001/exe/a.out -importcfg $WORK/b001/importcfg.link",
    ]
)


def test_trace_reads_requests_and_compiled_packages():
    trace = GoTrace.read(LOG)
    assert trace.gets == {"http://10.1.2.1:4321/golang.org/x/text/@v/v0.34.0.zip"}
    assert trace.compiled == {"internal/goarch", "github.com/go-chi/chi/v5", "main"}
    assert trace.std == {"internal/goarch"}
    # A package read from the build cache (packagefile) or a link is not a compile.
    assert trace.from_modules(["github.com/google/uuid"]) == set()
    assert trace.from_modules(["github.com/go-chi/ch"]) == set(), "only whole path elements match"
    assert trace.from_modules(["github.com/go-chi/chi/v5"]) == {"github.com/go-chi/chi/v5"}


def test_a_log_without_x_reads_as_nothing():
    trace = GoTrace.read("$ go vet ./...\nok  \tgitlab.com/your-group/my-service\t0.01s\n")
    assert not trace.gets and not trace.compiled and not trace.std


def test_module_paths_are_escaped_as_proxies_spell_them():
    assert escape_module_path("github.com/BurntSushi/toml") == "github.com/!burnt!sushi/toml"
    zip_path = Requirement("github.com/Masterminds/semver/v3", "v3.2.1", False).zip
    assert zip_path == "github.com/!masterminds/semver/v3/@v/v3.2.1.zip"


def test_saved_caches_and_their_files(tmp_path):
    assert saved_caches(tmp_path) == {}
    key = tmp_path / "cache" / "0_go-abc"
    (key / ".go" / "mod").mkdir(parents=True)
    (key / ".go" / "mod" / "a.zip").write_bytes(b"zip")
    assert saved_caches(tmp_path) == {"0_go-abc": key}
    files = files_of(key)
    assert list(files) == [".go/mod/a.zip"] and files[".go/mod/a.zip"][0] == 3
