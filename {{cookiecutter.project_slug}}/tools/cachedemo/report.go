package main

// What the demo prints for a scenario: the variants, the two rebuilds side by side,
// the packages the compile steps compiled, and the sentence.

import (
	"fmt"
	"strings"
)

// explainer is the project's explainer of the pitfalls; "" when it was left out.
const explainer = "{% if cookiecutter.include_explainer %}docs/jargon.md{% endif %}"

// SideBySide prints two step tables as one: a row per step, matched across the
// variants by stage and instruction; "-" where a variant has no such step.
func SideBySide(left, right []Step, leftTitle, rightTitle string) string {
	type row struct {
		label       string
		left, right *Step
	}
	var rows []*row
	byKey := map[string]*row{}
	add := func(steps []Step, isLeft bool) {
		for i := range steps {
			s := &steps[i]
			key := stepKey(*s)
			r, ok := byKey[key]
			if !ok {
				r = &row{label: shortLabel(*s)}
				byKey[key] = r
				rows = append(rows, r)
			}
			if isLeft {
				r.left = s
			} else {
				r.right = s
			}
		}
	}
	add(left, true)
	add(right, false)
	width := len("step")
	for _, r := range rows {
		width = max(width, len(r.label))
	}
	cell := func(s *Step) string {
		if s == nil {
			return fmt.Sprintf("%-16s", "-")
		}
		return fmt.Sprintf("%-8s %7.2f", s.Status, s.Seconds)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %-16s  %s\n", width, "step", shorten(leftTitle, 16), shorten(rightTitle, 16))
	for _, r := range rows {
		fmt.Fprintf(&b, "%-*s  %s  %s\n", width, r.label, cell(r.left), cell(r.right))
	}
	return b.String()
}

// shortLabel is a step's label without its number (numbers differ between variants).
func shortLabel(s Step) string {
	parts := []string{}
	for _, p := range []string{s.Platform, s.Stage} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	text := strings.Join(strings.Fields(mountOptionRE.ReplaceAllString(s.Text, "")), " ")
	return shorten("["+strings.Join(parts, " ")+"] "+text, 60)
}

// report prints one scenario's results.
func report(s *Scenario, o Outcome, edited string) string {
	var b strings.Builder
	heading := s.Name
	if s.Pitfall != "" {
		heading += ": " + s.Pitfall
		if explainer != "" {
			heading += " (pitfalls in " + explainer + ")"
		}
	}
	fmt.Fprintf(&b, "\n=== %s ===\n", heading)
	if o.Bad == nil {
		g := o.Good
		fmt.Fprintf(&b, "\nCold build (%.1f s):\n%s", g.Cold.Seconds, RenderTable(g.Cold.Steps))
		fmt.Fprintf(&b, "\nRebuild after editing %s, on a new builder (%.1f s):\n%s", edited, g.Rebuild.Seconds, RenderTable(g.Rebuild.Steps))
		if c, ok := compiledBy(g.Rebuild.Steps); ok {
			fmt.Fprintf(&b, "The compile step compiled %s.\n", packages(c.total))
		}
		fmt.Fprintf(&b, "\n%s\n", s.Explain(o))
		return b.String()
	}
	left, right := s.columns()
	width := max(len(left), len(right)) + 1
	fmt.Fprintf(&b, "%-*s %s\n", width, left+":", describeVariant(o.Good))
	fmt.Fprintf(&b, "%-*s %s\n", width, right+":", describeVariant(o.Bad))
	if ranAs := rootlessRun(o); ranAs != "" {
		fmt.Fprintf(&b, "rootless BuildKit ran as: %s\n", ranAs)
	}
	fmt.Fprintf(&b, "cold builds: %s %s, %s %s\n", left, coldSummary(o.Good), right, coldSummary(o.Bad))
	if o.Bad.Rebuild != nil {
		fmt.Fprintf(&b, "\nRebuilds after editing %s with a new commit, each on a brand-new builder:\n", edited)
		b.WriteString(SideBySide(o.Good.Rebuild.Steps, o.Bad.Rebuild.Steps, left, right))
		g, okG := compiledBy(o.Good.Rebuild.Steps)
		bad, okB := compiledBy(o.Bad.Rebuild.Steps)
		if okG && okB {
			fmt.Fprintf(&b, "compiled by the compile step: %s %s, %s %s", left, packages(g.total), right, packages(bad.total))
			if o.Bad.SameBuilder != nil {
				if same, ok := compiledBy(o.Bad.SameBuilder.Steps); ok {
					fmt.Fprintf(&b, ", bad on the cold build's own builder %s", packages(same.total))
				}
			}
			b.WriteString("\n")
		}
	} else {
		fmt.Fprintf(&b, "\nRebuild after editing %s, on a brand-new builder (good only: the bad variant has no cache to rebuild from):\n", edited)
		b.WriteString(RenderTable(o.Good.Rebuild.Steps))
	}
	fmt.Fprintf(&b, "\n%s\n", s.Explain(o))
	return b.String()
}

func describeVariant(r *Result) string {
	v := r.Variant
	where := "a new docker-container builder per build"
	switch {
	case v.Driver == dockerDriver:
		where = "the docker driver of the current engine"
		if r.Store != "" {
			where += " (" + r.Store + " image store)"
		}
	case v.rebuildDriver() != v.Driver:
		where = fmt.Sprintf("cold build on %s, rebuild on %s", builderWords(v.Driver), builderWords(v.rebuildDriver()))
	case v.Driver == rootlessDriver:
		where = "rootless BuildKit in a new container per build"
	}
	dockerfile := "your Dockerfile"
	if r.Change != "" {
		dockerfile += " with " + r.Change
	}
	return fmt.Sprintf("%s; cache: %s; %s", dockerfile, v.Cache, where)
}

// builderWords names a kind of builder in a variant's description.
func builderWords(kind Driver) string {
	switch kind {
	case rootlessDriver:
		return "rootless BuildKit in a new container (uid 1000, not privileged)"
	case dockerDriver:
		return "the docker driver of the current engine"
	}
	return "a new docker-container builder"
}

// rootlessRun is how rootless BuildKit's container was started in the scenario, or "".
func rootlessRun(o Outcome) string {
	for _, r := range []*Result{o.Good, o.Bad} {
		if r == nil {
			continue
		}
		for _, b := range []*Build{&r.Cold, r.Rebuild} {
			if b != nil && b.RanAs != "" {
				return b.RanAs
			}
		}
	}
	return ""
}

func coldSummary(r *Result) string {
	if r.Cold.Err != nil {
		if why := refusal(r.Cold); why != "" {
			return "refused before any step ran"
		}
		return "failed"
	}
	return fmt.Sprintf("%.1f s", r.Cold.Seconds)
}
