package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// valueAfter returns every value that follows flag in args.
func valueAfter(args []string, flag string) []string {
	var out []string
	for i := 0; i+1 < len(args); i++ {
		if args[i] == flag {
			out = append(out, args[i+1])
		}
	}
	return out
}

func demoRequest() buildRequest {
	return buildRequest{
		dockerfile: "/tmp/cachedemo-x/Dockerfile.as-is",
		tag:        "localhost:5000/cachedemo/app:as-is-rootless",
		cacheTo:    []string{"type=registry,ref=localhost:5000/cachedemo/cache:rootless-writes,mode=max"},
		cacheFrom:  []string{"type=registry,ref=localhost:5000/cachedemo/cache:ours"},
		buildArgs:  commitArgs(1),
	}
}

func TestRootlessArgsStartBuildKitAsTheRootlessJobDoes(t *testing.T) {
	b := &Builder{name: "cachedemo-x-1", driver: rootlessDriver, image: "moby/buildkit:v9.9.9-rootless"}
	args, settings := b.rootlessArgs(demoRequest(), "/work/project")
	if !slices.Equal(args[:2], []string{"run", "--rm"}) {
		t.Errorf("got %v, want a docker run that removes its container", args[:2])
	}
	wantSettings := []string{"--user", "1000:1000", "--security-opt", "seccomp=unconfined",
		"--cap-drop", "ALL", "--cap-add", "SETUID", "--cap-add", "SETGID"}
	if !slices.Equal(settings, wantSettings) {
		t.Errorf("settings: got %v, want %v", settings, wantSettings)
	}
	joined := strings.Join(args, " ")
	for _, unwanted := range []string{"--privileged", "SYS_ADMIN", "apparmor"} {
		if strings.Contains(joined, unwanted) {
			t.Errorf("%q in %v", unwanted, args)
		}
	}
	checks := map[string][]string{
		"--name":                        {"cachedemo-x-1"},
		"--env":                         {"BUILDKITD_FLAGS=--oci-worker-no-process-sandbox"},
		"--entrypoint":                  {"buildctl-daemonless.sh"},
		"--network":                     {"host"},
		"--progress":                    {"rawjson"},
		"--frontend":                    {"dockerfile.v0"},
		"--local":                       {"context=/ctx", "dockerfile=/dockerfile"},
		"--opt":                         {"filename=Dockerfile.as-is", "build-arg:GIT_COMMIT=cachedemo-commit-1", "build-arg:VERSION=demo-1"},
		"--output":                      {"type=image,name=localhost:5000/cachedemo/app:as-is-rootless,push=true"},
		"--export-cache":                {"type=registry,ref=localhost:5000/cachedemo/cache:rootless-writes,mode=max"},
		"--import-cache":                {"type=registry,ref=localhost:5000/cachedemo/cache:ours"},
		"moby/buildkit:v9.9.9-rootless": {"build"},
	}
	for flag, want := range checks {
		if got := valueAfter(args, flag); !slices.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", flag, got, want)
		}
	}
	mounts := valueAfter(args, "--mount")
	wantMounts := []string{
		"type=bind,source=/work/project,target=/ctx,readonly",
		"type=bind,source=/tmp/cachedemo-x,target=/dockerfile,readonly",
	}
	if !slices.Equal(mounts, wantMounts) {
		t.Errorf("mounts: got %q, want %q", mounts, wantMounts)
	}

	b.appArmor, b.buildkitdConfig = true, "/etc/demo/buildkitd.toml"
	args, settings = b.rootlessArgs(buildRequest{dockerfile: "/d/Dockerfile"}, "/p")
	if !slices.Equal(settings[len(settings)-2:], []string{"--security-opt", "apparmor=unconfined"}) {
		t.Errorf("with AppArmor on the engine: got %v, want apparmor=unconfined last", settings)
	}
	if got := valueAfter(args, "--mount"); !slices.Contains(got, "type=bind,source=/etc/demo/buildkitd.toml,target="+rootlessConfig+",readonly") {
		t.Errorf("the buildkitd config is not mounted where rootless buildkitd reads it: %q", got)
	}
	for _, flag := range []string{"--output", "--export-cache", "--import-cache"} {
		if got := valueAfter(args, flag); got != nil {
			t.Errorf("%s given for a request without it: %q", flag, got)
		}
	}
}

func TestBuildxArgsSpellTheSameRequest(t *testing.T) {
	args := buildxArgs("cachedemo-x-2", demoRequest())
	want := []string{"buildx", "build", "--builder", "cachedemo-x-2", "--progress=rawjson",
		"--file", "/tmp/cachedemo-x/Dockerfile.as-is",
		"--tag", "localhost:5000/cachedemo/app:as-is-rootless", "--push",
		"--cache-to", "type=registry,ref=localhost:5000/cachedemo/cache:rootless-writes,mode=max",
		"--cache-from", "type=registry,ref=localhost:5000/cachedemo/cache:ours",
		"--build-arg", "GIT_COMMIT=cachedemo-commit-1", "--build-arg", "VERSION=demo-1", "."}
	if !slices.Equal(args, want) {
		t.Errorf("got %q\nwant %q", args, want)
	}
	if got := buildxArgs("b", buildRequest{dockerfile: "D"}); slices.Contains(got, "--push") || slices.Contains(got, "--tag") {
		t.Errorf("no tag asked, yet %q", got)
	}
}

func TestCSVFieldKeepsAPathWithACommaInOneField(t *testing.T) {
	got := bindMount(`/home/a,b "x"`, "/ctx")
	want := `type=bind,"source=/home/a,b ""x""",target=/ctx,readonly`
	if got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestUnreadableByRootlessUser(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if why := unreadableByRootlessUser(dir); why != "" {
		t.Errorf("a 0755 directory: got %q", why)
	}
	private := filepath.Join(dir, "private")
	if err := os.Mkdir(private, 0o700); err != nil {
		t.Fatal(err)
	}
	why := unreadableByRootlessUser(private)
	if os.Getuid() == 1000 {
		if why != "" {
			t.Errorf("uid 1000 reads its own 0700 directory: got %q", why)
		}
	} else if !strings.Contains(why, "uid 1000") || !strings.Contains(why, "chmod o+rx") {
		t.Errorf("a 0700 directory: got %q, want the reason and the fix", why)
	}
}

func TestRootlessVariantsShareTheColdBuildsTheyCan(t *testing.T) {
	if rootlessReads.coldGroup() != ours.coldGroup() {
		t.Errorf("rootless-reads is built cold like ours and should share its cold build: %q, %q",
			rootlessReads.coldGroup(), ours.coldGroup())
	}
	if rootlessWrites.coldGroup() == ours.coldGroup() {
		t.Error("rootless-writes must have a cold build of its own, on rootless BuildKit")
	}
	if rootlessReads.rebuildDriver() != rootlessDriver || rootlessWrites.rebuildDriver() != containerDriver {
		t.Error("each rootless variant rebuilds on the other kind of builder")
	}
	if ours.rebuildDriver() != containerDriver {
		t.Error("a variant without RebuildOn rebuilds on its own kind")
	}
}

// crossOutcome is a rootless scenario's outcome with the given download and warm-up
// results in the rebuild of each direction.
func crossOutcome(reads, writes []Step) Outcome {
	return Outcome{
		Good: &Result{Variant: rootlessReads, CacheStored: true, Rebuild: &Build{Steps: reads, Seconds: 9},
			Cold: Build{Seconds: 60}},
		Bad: &Result{Variant: rootlessWrites, CacheStored: true, Rebuild: &Build{Steps: writes, Seconds: 5},
			Cold: Build{Seconds: 70, RanAs: "moby/buildkit:v9.9.9-rootless, --user 1000:1000"}},
	}
}

func TestExplainRootless(t *testing.T) {
	got := explainRootless(crossOutcome(rebuild(cached, cached), rebuild(cached, cached)))
	for _, want := range []string{
		"Each builder rebuilt from the cache the other wrote",
		"rootless BuildKit took 2 of its 5 steps from the cache a docker-container builder exported (9.0 s)",
		"a docker-container builder took 2 of its 5 steps from the cache rootless BuildKit exported (5.0 s)",
		"the module download and the standard-library warm-up among them",
		"both ran only the copy of the source (`COPY . .`), the compile and the copy of the binary",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("sentence %q lacks %q", got, want)
		}
	}
	got = explainRootless(crossOutcome(rebuild(cached, cached), rebuild(cached, executed)))
	if !strings.Contains(got, "a docker-container builder ran the standard-library warm-up again although the cache rootless BuildKit exported") {
		t.Errorf("a rerun warm-up: got %q", got)
	}
	o := crossOutcome(rebuild(cached, cached), rebuild(cached, cached))
	o.Bad.CacheStored = false
	if got := explainRootless(o); !strings.Contains(got, "The cold build on rootless BuildKit wrote no cache image") {
		t.Errorf("no cache image: got %q", got)
	}
}

func TestReportNamesTheRootlessColumnsAndSettings(t *testing.T) {
	var s *Scenario
	for _, candidate := range scenarios() {
		if candidate.Name == "rootless" {
			s = candidate
		}
	}
	if s == nil {
		t.Fatal("no rootless scenario")
	}
	out := report(s, crossOutcome(rebuild(cached, cached), rebuild(cached, cached)), "main.go")
	for _, want := range []string{
		"buildx->rootless: your Dockerfile; cache: registry cache in mode=max; cold build on a new docker-container builder, rebuild on rootless BuildKit",
		"rootless->buildx: your Dockerfile; cache: registry cache in mode=max; cold build on rootless BuildKit",
		"rootless BuildKit ran as: moby/buildkit:v9.9.9-rootless, --user 1000:1000",
		"cold builds: buildx->rootless 60.0 s, rootless->buildx 70.0 s",
		"compiled by the compile step: buildx->rootless 1 package, rootless->buildx 1 package",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("report lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "good") || strings.Contains(out, "bad") {
		t.Errorf("the rootless scenario has no good or bad variant:\n%s", out)
	}
}
