package main

// The edits that turn the project's Dockerfile (dockerfile.go) into the variants the
// scenarios build. Every variant is made from the real Dockerfile by program, so the
// demo always shows what the pitfalls would do to this very file; when the file no
// longer has the shape an edit needs (say, no ARG GIT_COMMIT in the builder stage), the
// edit fails with a message that says what it looked for.

import (
	"fmt"
	"strings"
)

// An Edit turns the Dockerfile into a variant and says in a few words what it changed.
type Edit func(Dockerfile) (Dockerfile, string, error)

// MoveArgToTop moves the builder stage's `ARG <name>` up to right after its FROM line,
// where many published Dockerfiles declare their arguments.
func MoveArgToTop(name string) Edit {
	return func(df Dockerfile) (Dockerfile, string, error) {
		s, err := df.builderStage()
		if err != nil {
			return Dockerfile{}, "", err
		}
		at := df.find(s.from+1, s.next, func(b block) bool { return declares(b, name) })
		if at < 0 {
			return Dockerfile{}, "", fmt.Errorf("%s declares no `ARG %s`, so there is nothing to move", s.label(), name)
		}
		firstRun := df.find(s.from+1, s.next, func(b block) bool { return b.keyword == "RUN" })
		if firstRun < 0 || at < firstRun {
			return Dockerfile{}, "", fmt.Errorf("%s already declares `ARG %s` before its first RUN: the Dockerfile has the pitfall itself", s.label(), name)
		}
		blocks := df.copyBlocks()
		moved := blocks[at]
		rest := append(append([]block{}, blocks[:at]...), blocks[at+1:]...)
		out := append(append(append([]block{}, rest[:s.from+1]...), moved), rest[s.from+1:]...)
		what := fmt.Sprintf("`%s` moved up to right after `%s`", strings.TrimSpace(moved.lines[0]), strings.TrimSpace(blocks[s.from].lines[0]))
		return df.withBlocks(out), what, nil
	}
}

// DropWarmUp removes the warm-up, as in the usual `COPY . .` + `RUN go build`: the
// builder stage's warm-up steps, and a stage they copy from when nothing else uses it.
func DropWarmUp(df Dockerfile) (Dockerfile, string, error) {
	s, err := df.builderStage()
	if err != nil {
		return Dockerfile{}, "", err
	}
	steps, stages, err := df.warmUp(s)
	if err != nil {
		return Dockerfile{}, "", err
	}
	dropped := map[int]bool{}
	var removed []string
	for _, st := range stages {
		removed = append(removed, fmt.Sprintf("the stage `%s`", st.name))
	}
	for _, i := range steps {
		df.dropWithComments(i, dropped)
		removed = append(removed, "`"+df.blocks[i].keyword+" "+shorten(df.blocks[i].text, 24)+"`")
	}
	for _, st := range stages {
		if df.usedElsewhere(st.name, dropped) {
			continue
		}
		// The stage's instructions and the lines between them; comments after its last
		// instruction belong to what follows.
		last := st.from
		for i := st.from; i < st.next; i++ {
			if df.blocks[i].keyword != "" {
				last = i
			}
		}
		for i := st.from; i <= last; i++ {
			dropped[i] = true
		}
		df.dropWithComments(st.from, dropped)
	}
	var out []block
	for i, b := range df.copyBlocks() {
		if !dropped[i] {
			out = append(out, b)
		}
	}
	return df.withBlocks(out), "the warm-up removed: " + joinWords(removed), nil
}

// CacheMountInsteadOfWarmUp removes the warm-up and gives the compile step a cache
// mount on Go's build cache instead: the usual advice for fast Go image builds.
func CacheMountInsteadOfWarmUp(goCache string) Edit {
	return func(df Dockerfile) (Dockerfile, string, error) {
		s, err := df.builderStage()
		if err != nil {
			return Dockerfile{}, "", err
		}
		at, err := df.compileStep(s)
		if err != nil {
			return Dockerfile{}, "", err
		}
		if cacheMountRE.MatchString(df.blocks[at].text) {
			return Dockerfile{}, "", fmt.Errorf("the compile step of %s already has a cache mount", s.label())
		}
		dropped, _, err := DropWarmUp(df)
		if err != nil {
			return Dockerfile{}, "", err
		}
		s, _ = dropped.builderStage()
		at, _ = dropped.compileStep(s)
		mount := "--mount=type=cache,target=" + goCache
		b := &dropped.blocks[at]
		first, ok := insertAfterKeyword(b.lines[0], "RUN", mount)
		if !ok {
			return Dockerfile{}, "", fmt.Errorf("cannot add a cache mount to %q", strings.TrimSpace(b.lines[0]))
		}
		b.lines[0] = first
		b.text = mount + " " + b.text
		return dropped, "the warm-up removed, and `" + mount + "` added to the compile step", nil
	}
}

// CountCompiledPackages adds -v to the compile step's `go build`, so the step's output
// lists every package it compiled (packages found in Go's build cache are not listed).
// The demo applies it to every variant alike; it does not change what is cached.
func CountCompiledPackages(df Dockerfile) (Dockerfile, string, error) {
	s, err := df.builderStage()
	if err != nil {
		return Dockerfile{}, "", err
	}
	at, err := df.compileStep(s)
	if err != nil {
		return Dockerfile{}, "", err
	}
	blocks := df.copyBlocks()
	b := &blocks[at]
	for i, line := range b.lines {
		if loc := goBuildRE.FindStringIndex(line); loc != nil {
			b.lines[i] = line[:loc[1]] + " -v" + line[loc[1]:]
			b.text = goBuildRE.ReplaceAllLiteralString(b.text, "go build -v")
			return df.withBlocks(blocks), "`-v` added to the compile step's `go build`", nil
		}
	}
	return Dockerfile{}, "", fmt.Errorf("the compile step of %s spells `go build` across lines", s.label())
}

// insertAfterKeyword puts text right after the instruction keyword of a line.
func insertAfterKeyword(line, keyword, text string) (string, bool) {
	indent := len(line) - len(strings.TrimLeft(line, " \t"))
	rest := line[indent:]
	if len(rest) < len(keyword) || !strings.EqualFold(rest[:len(keyword)], keyword) {
		return "", false
	}
	return line[:indent+len(keyword)] + " " + text + rest[len(keyword):], true
}

func shorten(text string, n int) string {
	if len(text) <= n {
		return text
	}
	return text[:n-3] + "..."
}
