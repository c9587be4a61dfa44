package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

// table builds a rebuild's steps from "stage|text|status" rows; output goes to the
// compile step.
func table(compileOutput string, rows ...string) []Step {
	var steps []Step
	for i, row := range rows {
		parts := strings.SplitN(row, "|", 3)
		s := Step{Stage: parts[0], Number: i + 1, Text: parts[1], Status: parts[2], Seconds: 1}
		if strings.Contains(s.Text, "go build -v") {
			s.Output = compileOutput
		}
		steps = append(steps, s)
	}
	return steps
}

const compileText = "RUN go build -v -ldflags=-X main.commit=c2 -o /out/app ."

func rebuild(download, warmUp string) []Step {
	return table("example.org/svc\n",
		"builder|FROM docker.io/library/golang:1|cached",
		"builder|RUN go mod download|"+download,
		"builder|RUN go build std|"+warmUp,
		"builder|COPY . .|executed",
		"builder|"+compileText+"|executed",
		"runtime|COPY --from=builder /out/app /app|executed",
	)
}

func TestExplainReranNamesTheStepsOnlyTheBadVariantRan(t *testing.T) {
	o := Outcome{
		Good: &Result{Rebuild: &Build{Steps: rebuild(cached, cached), Seconds: 5}},
		Bad:  &Result{Rebuild: &Build{Steps: rebuild(executed, executed), Seconds: 40}},
	}
	got := explainReran("With X")(o)
	for _, want := range []string{"With X", "the module download and the standard-library warm-up again", "40.0 s against 5.0 s"} {
		if !strings.Contains(got, want) {
			t.Errorf("sentence %q lacks %q", got, want)
		}
	}
	if strings.Contains(got, "compile") {
		t.Errorf("the compile ran in both variants and is no difference: %q", got)
	}
}

// The project's own step names; a linked copy shows as two steps of one number, the link
// and the copy, each named for what it does.
func TestDescribeAllNamesTheWarmUpSteps(t *testing.T) {
	steps := table("",
		"std|RUN go build std|executed",
		"builder|RUN go mod download|executed",
		"builder|LINK COPY --link --from=std /root/.cache/go-build /root/.cache/go-build|executed",
		"builder|COPY --link --from=std /root/.cache/go-build /root/.cache/go-build|executed",
		`builder|RUN deps="$(go list -m all)"|executed`,
	)
	got := joinWords(describeAll(steps))
	want := "the standard-library warm-up, the module download, the link of the standard library's copy onto the builder stage, " +
		"the copy of the compiled standard library and the dependency warm-up"
	if got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestExplainReranSaysSoWhenThePitfallDidNotShow(t *testing.T) {
	o := Outcome{
		Good: &Result{Rebuild: &Build{Steps: rebuild(cached, cached)}},
		Bad:  &Result{Rebuild: &Build{Steps: rebuild(cached, cached)}},
	}
	if got := explainReran("With X")(o); !strings.Contains(got, "did not show") {
		t.Errorf("got %q, want it to say the pitfall did not show", got)
	}
}

func compileOnly(output string) []Step {
	return table(output, "builder|COPY . .|executed", "builder|"+compileText+"|executed")
}

func TestCompiledByCountsPackagesAndTheStandardLibrary(t *testing.T) {
	c, ok := compiledBy(compileOnly("internal/goarch\nruntime\nnet/http\ngo: a note with spaces\nexample.org/svc\n\n"))
	if !ok || c.total != 4 || c.std != 3 {
		t.Errorf("got %+v (ok %v), want 4 packages, 3 of the standard library", c, ok)
	}
	if _, ok := compiledBy(table("", "builder|RUN go build -ldflags=x .|executed")); ok {
		t.Error("a compile step without -v cannot be counted")
	}
	cachedCompile := compileOnly("")
	cachedCompile[1].Status = cached
	if _, ok := compiledBy(cachedCompile); ok {
		t.Error("a cached compile step compiled nothing and has no output to count")
	}
}

func TestExplainNoWarmUpComparesCounts(t *testing.T) {
	std := strings.Repeat("runtime\n", 150)
	o := Outcome{
		Good: &Result{Rebuild: &Build{Steps: compileOnly("example.org/svc\n")}},
		Bad:  &Result{Rebuild: &Build{Steps: compileOnly(std + "example.org/svc\n")}},
	}
	got := explainNoWarmUp(o)
	if !strings.Contains(got, "compiled 151 packages, 150 of them from the standard library") || !strings.Contains(got, "compiled 1 package") {
		t.Errorf("got %q", got)
	}
	o.Bad = o.Good
	if got := explainNoWarmUp(o); !strings.Contains(got, "saved nothing") {
		t.Errorf("equal counts: got %q", got)
	}
}

func TestExplainCacheMountComparesBuilders(t *testing.T) {
	std := strings.Repeat("runtime\n", 150)
	o := Outcome{
		Good: &Result{Rebuild: &Build{Steps: compileOnly("example.org/svc\n")}},
		Bad: &Result{
			Rebuild:     &Build{Steps: compileOnly(std + "example.org/svc\n")},
			SameBuilder: &Build{Steps: compileOnly("example.org/svc\n")},
		},
	}
	got := explainCacheMount(o)
	for _, want := range []string{"compiled 151 packages (150 from the standard library) against 1", "it compiled 1: the mount's contents stayed on that builder"} {
		if !strings.Contains(got, want) {
			t.Errorf("sentence %q lacks %q", got, want)
		}
	}
	o.Bad.SameBuilder = o.Bad.Rebuild
	if got := explainCacheMount(o); !strings.Contains(got, "did not help even there") {
		t.Errorf("a mount that kept nothing: got %q", got)
	}
}

func TestExplainDockerDriver(t *testing.T) {
	good := &Result{Rebuild: &Build{Steps: rebuild(cached, cached)}}
	refused := &Result{Store: "classic", Cold: Build{Err: errors.New("exit status 1"),
		Tail: "ERROR: Cache export is not supported for the docker driver.\nSwitch to a different driver"}}
	got := explainDockerDriver(Outcome{Good: good, Bad: refused})
	for _, want := range []string{"classic image store", "refused", "Cache export is not supported for the docker driver.", "took 2 of its 5 steps"} {
		if !strings.Contains(got, want) {
			t.Errorf("sentence %q lacks %q", got, want)
		}
	}
	accepted := &Result{Store: "containerd", CacheStored: true}
	if got := explainDockerDriver(Outcome{Good: good, Bad: accepted}); !strings.Contains(got, "exported the registry cache as well") {
		t.Errorf("containerd store: got %q", got)
	}
	other := &Result{Store: "classic", Cold: Build{Err: errors.New("exit status 1"), Tail: "ERROR: no space left"}}
	if got := explainDockerDriver(Outcome{Good: good, Bad: other}); !strings.Contains(got, "not with a refusal") {
		t.Errorf("another failure: got %q", got)
	}
}

func TestSideBySideMatchesStepsAcrossVariants(t *testing.T) {
	good := rebuild(cached, cached)
	bad := table("", // no warm-up, and a cache mount on the compile
		"builder|FROM docker.io/library/golang:1|cached",
		"builder|RUN go mod download|cached",
		"builder|COPY . .|executed",
		"builder|RUN --mount=type=cache,target=/root/.cache/go-build "+compileText[len("RUN "):]+"|executed",
		"runtime|COPY --from=builder /out/app /app|executed",
	)
	out := SideBySide(good, bad, "good", "bad")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if len(lines) != 1+6 {
		t.Fatalf("want a header and 6 rows:\n%s", out)
	}
	for _, want := range []string{
		"[builder] RUN go build std",
		"[builder] RUN go build -v -ldflags",
	} {
		found := false
		for _, line := range lines {
			if strings.HasPrefix(line, want) {
				found = true
				fields := strings.Fields(line[len(want):])
				if want == "[builder] RUN go build std" && (fields[len(fields)-1] != "-" || fields[len(fields)-3] != cached) {
					t.Errorf("warm-up row: got %q, want cached on the left and - on the right", line)
				}
			}
		}
		if !found {
			t.Errorf("no row %q in\n%s", want, out)
		}
	}
}

func TestRunChoosesScenarios(t *testing.T) {
	env := func(value string) func(string) string {
		return func(key string) string {
			if key == "CACHE_DEMO_SCENARIO" {
				return value
			}
			return ""
		}
	}
	var out bytes.Buffer
	if err := run(context.Background(), nil, env("list"), &out); err != nil || !strings.Contains(out.String(), "arg-at-top") {
		t.Errorf("list: %v\n%s", err, out.String())
	}
	for _, bad := range []string{"nope", "arg-at-top,nope", "$(touch x)"} {
		err := run(context.Background(), []string{bad}, env(""), &out)
		if err == nil || !strings.Contains(err.Error(), "SCENARIO=list") {
			t.Errorf("%q: got %v, want an error pointing at the list", bad, err)
		}
	}
	if err := run(context.Background(), []string{"a", "b"}, env(""), &out); err == nil {
		t.Error("two arguments were accepted")
	}
	chosen, err := selectScenarios(" arg-at-top , mode-min,arg-at-top")
	if err != nil || len(chosen) != 2 {
		t.Errorf("got %d scenarios, %v; want arg-at-top and mode-min once each", len(chosen), err)
	}
	if chosen, _ := selectScenarios(""); len(chosen) != 1 || chosen[0].Name != defaultScenario {
		t.Errorf("no name should give the default scenario, got %v", chosen)
	}
	if all, _ := selectScenarios("all"); len(variantsOf(all)) != 9 {
		t.Errorf("all: got %d distinct variants, want 9", len(variantsOf(all)))
	}
}

func TestColdBuildsAreSharedOnlyWhereThatChangesNothing(t *testing.T) {
	if ours.coldGroup() != inline.coldGroup() {
		t.Error("the inline export should ride on the cold build of the unchanged Dockerfile")
	}
	for _, v := range []*Variant{modeMin, engineDriver, argAtTop, noWarmUp, cacheMount} {
		if v.coldGroup() == ours.coldGroup() {
			t.Errorf("%s shares the cold build of the unchanged Dockerfile", v.Key)
		}
	}
	r := &runner{registry: "localhost:5000"}
	if r.coldImage(modeMin) == r.coldImage(inline) {
		t.Error("two cold builds push the same image tag; the inline rebuild could read the wrong one")
	}
	if got := r.cacheFrom(inline); got != "type=registry,ref="+r.coldImage(inline) {
		t.Errorf("the inline rebuild reads %q, want the image of its cold build", got)
	}
}
