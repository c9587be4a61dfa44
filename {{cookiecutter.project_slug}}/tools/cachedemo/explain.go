package main

// One sentence per scenario of what happened, built from the measured step tables:
// when the builds do not show what a pitfall predicts, the sentence says that instead.

import (
	"fmt"
	"regexp"
	"strings"
)

// Explain says in one plain sentence what the default scenario's rebuild shows.
func Explain(steps []Step, coldSeconds, rebuildSeconds float64) string {
	var ran []string
	fromCache := 0
	for _, s := range steps {
		if strings.HasPrefix(s.Text, "FROM ") {
			continue // a base image is resolved, not built
		}
		switch s.Status {
		case executed:
			ran = append(ran, describe(s))
		case cached:
			fromCache++
		}
	}
	download, okD := findStep(steps, "RUN go mod download")
	warmUp, okW := findStep(steps, "RUN go build std")
	if okD && okW && download.Status == cached && warmUp.Status == cached {
		return fmt.Sprintf("The rebuild ran on a brand-new builder with an empty local cache, "+
			"yet %d of its steps, the module download and the standard-library warm-up among them, "+
			"came from the registry cache and only %s ran again, "+
			"so it took %.1f s instead of the cold build's %.1f s.",
			fromCache, joinWords(ran), rebuildSeconds, coldSeconds)
	}
	return fmt.Sprintf("The module download or the warm-up ran again (%s ran), so the registry "+
		"cache did not cover the builder stage: check that the cache is exported with mode=max "+
		"and that nothing above those steps changed; the rebuild took %.1f s against %.1f s cold.",
		joinWords(ran), rebuildSeconds, coldSeconds)
}

func explainRegistryCache(o Outcome) string {
	return Explain(o.Good.Rebuild.Steps, o.Good.Cold.Seconds, o.Good.Rebuild.Seconds)
}

// explainReran is for the pitfalls that make steps run again: it names the steps the bad
// rebuild executed where the good one took them from the cache.
func explainReran(condition string) func(Outcome) string {
	return func(o Outcome) string {
		good, bad := o.Good.Rebuild, o.Bad.Rebuild
		extra := executedOnlyIn(bad.Steps, good.Steps)
		if len(extra) == 0 {
			return fmt.Sprintf("%s, the rebuild after the edit ran the same steps as with your Dockerfile (%s), "+
				"so the pitfall did not show in this run.", condition, joinWords(describeAll(executedSteps(bad.Steps))))
		}
		return fmt.Sprintf("%s, the rebuild on a brand-new builder ran %s again, which your Dockerfile "+
			"took from the registry cache; it took %.1f s against %.1f s.",
			condition, joinWords(describeAll(extra)), bad.Seconds, good.Seconds)
	}
}

func explainNoWarmUp(o Outcome) string {
	g, okG := compiledBy(o.Good.Rebuild.Steps)
	b, okB := compiledBy(o.Bad.Rebuild.Steps)
	switch {
	case !okG || !okB:
		return "Without the warm-up step: the demo found no compile step output to count packages from, so it cannot say what the warm-up saved."
	case b.total > g.total:
		return fmt.Sprintf("Without the warm-up step, the compile step after the edit compiled %s, %d of them "+
			"from the standard library, where your Dockerfile's compiled %s and found the rest precompiled "+
			"in the warm-up layer from the registry cache (compile step %.1f s against %.1f s).",
			packages(b.total), b.std, packages(g.total), b.seconds, g.seconds)
	default:
		return fmt.Sprintf("Without the warm-up step, the compile step after the edit compiled %s, no more than "+
			"your Dockerfile's %d, so the warm-up saved nothing in this run.", packages(b.total), g.total)
	}
}

func explainCacheMount(o Outcome) string {
	g, okG := compiledBy(o.Good.Rebuild.Steps)
	b, okB := compiledBy(o.Bad.Rebuild.Steps)
	if !okG || !okB || o.Bad.SameBuilder == nil {
		return "With a cache mount: the demo found no compile step output to count packages from, so it cannot say what the mount kept."
	}
	same, okS := compiledBy(o.Bad.SameBuilder.Steps)
	if !okS {
		return "With a cache mount: the rebuild on the first builder printed no compile output to compare."
	}
	if b.total <= g.total {
		return fmt.Sprintf("With a cache mount instead of the warm-up step, the compile step on a brand-new "+
			"builder compiled %s, no more than your Dockerfile's %d, so the pitfall did not show in this run.",
			packages(b.total), g.total)
	}
	kept := "the mount's contents stayed on that builder and never reached the registry cache"
	if same.total >= b.total {
		kept = "so in this run the mount did not help even there"
	}
	return fmt.Sprintf("With a cache mount instead of the warm-up step, the compile step on a brand-new builder "+
		"compiled %s (%d from the standard library) against %d with your Dockerfile, while on the builder "+
		"that ran the cold build, whose mount still held Go's cache, it compiled %d: %s.",
		packages(b.total), b.std, g.total, same.total, kept)
}

func explainDockerDriver(o Outcome) string {
	bad, good := o.Bad, o.Good
	served := 0
	total := 0
	if good.Rebuild != nil {
		for _, s := range good.Rebuild.Steps {
			if strings.HasPrefix(s.Text, "FROM ") {
				continue
			}
			total++
			if s.Status == cached {
				served++
			}
		}
	}
	switch {
	case bad.Cold.Err != nil && refusal(bad.Cold) != "":
		return fmt.Sprintf("On this engine (%s image store) the docker driver refused to export a registry cache "+
			"(buildx said: %q), while a docker-container builder exported one from which a brand-new builder "+
			"took %d of its %d steps after the edit.", bad.Store, refusal(bad.Cold), served, total)
	case bad.Cold.Err != nil:
		return fmt.Sprintf("The build on the docker driver failed, but not with a refusal to export the cache: %v.", bad.Cold.Err)
	case bad.CacheStored:
		return fmt.Sprintf("This engine keeps its images in the %s image store, so its docker driver exported "+
			"the registry cache as well (the cache image is in the registry); on an engine with the classic "+
			"store it refuses.", bad.Store)
	default:
		return fmt.Sprintf("The docker driver build passed on this engine (%s image store), but no cache image "+
			"reached the registry.", bad.Store)
	}
}

// explainRootless says whether each builder rebuilt from the cache the other kind wrote:
// Good's cold build ran on a docker-container builder and its rebuild on rootless
// BuildKit, Bad's the other way round.
func explainRootless(o Outcome) string {
	type direction struct {
		res            *Result
		writer, reader string
	}
	directions := []direction{
		{o.Good, "a docker-container builder", "rootless BuildKit"},
		{o.Bad, "rootless BuildKit", "a docker-container builder"},
	}
	var froms, ran, kept []string
	for i, d := range directions {
		if !d.res.CacheStored {
			return fmt.Sprintf("The cold build on %s wrote no cache image to the registry, so this run "+
				"cannot show whether %s reads it.", d.writer, d.reader)
		}
		steps := d.res.Rebuild.Steps
		var reran []string
		for _, prefix := range []string{"RUN go mod download", "RUN go build std", "RUN deps="} {
			s, ok := findStep(steps, prefix)
			switch {
			case ok && s.Status != cached:
				reran = append(reran, describe(s))
			case ok && i == 0:
				kept = append(kept, describe(s))
			}
		}
		if len(reran) > 0 {
			return fmt.Sprintf("After the edit, %s ran %s again although the cache %s exported holds "+
				"it, so in this run the two builders did not share every cached step.",
				d.reader, joinWords(reran), d.writer)
		}
		fromCache, total := 0, 0
		for _, s := range steps {
			if strings.HasPrefix(s.Text, "FROM ") {
				continue
			}
			total++
			if s.Status == cached {
				fromCache++
			}
		}
		froms = append(froms, fmt.Sprintf("%s took %d of its %d steps from the cache %s exported (%.1f s)",
			d.reader, fromCache, total, d.writer, d.res.Rebuild.Seconds))
		ran = append(ran, joinWords(describeAll(executedSteps(steps))))
	}
	both := "both ran only " + ran[0]
	if ran[0] != ran[1] {
		both = fmt.Sprintf("the first ran only %s, the second %s", ran[0], ran[1])
	}
	among := ""
	if len(kept) > 0 {
		among = ", " + joinWords(kept) + " among them"
	}
	return fmt.Sprintf("Each builder rebuilt from the cache the other wrote: %s%s; %s, so switching "+
		"builders, or runners with both, keeps the cache (rootless BuildKit's seconds include starting it).",
		strings.Join(froms, ", and "), among, both)
}

// refusal returns buildx's reason for not exporting a cache, or "" when the build did
// not fail that way: it failed before any step ran, saying the export is not supported.
func refusal(b Build) string {
	if b.Err == nil || len(executedSteps(b.Steps)) > 0 {
		return ""
	}
	for _, line := range strings.Split(b.Tail, "\n") {
		if strings.Contains(strings.ToLower(line), "not supported") {
			return strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "ERROR:"))
		}
	}
	return ""
}

// stepKey matches a step across variants: the same stage and instruction, with mount
// options left out (a variant may add one to an otherwise identical step).
func stepKey(s Step) string {
	return s.Platform + "|" + s.Stage + "|" + mountOptionRE.ReplaceAllString(s.Text, "")
}

var mountOptionRE = regexp.MustCompile(`--mount=\S+\s+`)

func executedSteps(steps []Step) []Step {
	var out []Step
	for _, s := range steps {
		if s.Status == executed && !strings.HasPrefix(s.Text, "FROM ") {
			out = append(out, s)
		}
	}
	return out
}

// executedOnlyIn lists the steps that executed in a while their counterpart in b came
// from the cache.
func executedOnlyIn(a, b []Step) []Step {
	inB := map[string]string{}
	for _, s := range b {
		inB[stepKey(s)] = s.Status
	}
	var out []Step
	for _, s := range executedSteps(a) {
		if inB[stepKey(s)] == cached {
			out = append(out, s)
		}
	}
	return out
}

// compiled is what a compile step's `go build -v` output lists.
type compiled struct {
	total, std int
	seconds    float64
}

// importPathRE matches a line of `go build -v` output: one import path.
var importPathRE = regexp.MustCompile(`^[A-Za-z0-9_.~+-]+(?:/[A-Za-z0-9_.~+-]+)*$`)

// compiledBy counts the packages the compile step (the last `go build -v` step)
// compiled. A standard-library path has no dot in its first element.
func compiledBy(steps []Step) (compiled, bool) {
	var step *Step
	for i := range steps {
		if strings.HasPrefix(steps[i].Text, "RUN ") && strings.Contains(steps[i].Text, "go build -v") {
			step = &steps[i]
		}
	}
	if step == nil || step.Status != executed {
		return compiled{}, false
	}
	c := compiled{seconds: step.Seconds}
	for _, line := range strings.Split(step.Output, "\n") {
		line = strings.TrimSpace(line)
		if !importPathRE.MatchString(line) {
			continue
		}
		c.total++
		first, _, _ := strings.Cut(line, "/")
		if !strings.Contains(first, ".") {
			c.std++
		}
	}
	return c, true
}

func packages(n int) string {
	if n == 1 {
		return "1 package"
	}
	return fmt.Sprintf("%d packages", n)
}

// describe names a step in a few words for the closing sentence.
func describe(s Step) string {
	text := mountOptionRE.ReplaceAllString(s.Text, "")
	switch {
	case text == "COPY . .", text == "COPY --from=checkout / .":
		return "the copy of the source (`" + text + "`)"
	case strings.HasPrefix(text, "COPY --chmod="):
		return "the `checkout` stage's copy of the build context (its modes made the same)"
	case strings.HasPrefix(text, "COPY --from=checkout /go.mod "):
		return "the copy of go.mod and go.sum"
	case strings.HasPrefix(text, "RUN go mod download"):
		return "the module download"
	case strings.HasPrefix(text, "RUN go build std"):
		return "the standard-library warm-up"
	case strings.HasPrefix(text, "RUN deps="):
		return "the dependency warm-up"
	// BuildKit shows a linked copy as two steps of one number: the copy into a layer of
	// its own, and the link of that layer onto the stage, which reruns whenever a step
	// before it does.
	case strings.HasPrefix(text, "COPY --link --from=std "):
		return "the copy of the compiled standard library"
	case strings.HasPrefix(text, "LINK COPY --link --from=std "):
		return "the link of the standard library's copy onto the builder stage"
	case strings.HasPrefix(text, "RUN go build -v -ldflags"), strings.HasPrefix(text, "RUN go build -ldflags"):
		return "the compile"
	case strings.HasPrefix(text, "COPY --from="):
		return "the copy of the binary into the runtime image"
	}
	return "`" + shorten(text, 40) + "`"
}

func describeAll(steps []Step) []string {
	out := make([]string, len(steps))
	for i, s := range steps {
		out[i] = describe(s)
	}
	return out
}

// joinWords lists items as "a, b and c".
func joinWords(items []string) string {
	switch len(items) {
	case 0:
		return "nothing"
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}
