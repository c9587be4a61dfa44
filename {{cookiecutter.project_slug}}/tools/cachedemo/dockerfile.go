package main

// The project's Dockerfile as a list of blocks: the parser, the writer that gives every
// untouched line back as it was, and what the edits in edits.go are made of: look-ups
// (the builder stage, its source copy, its compile step, its warm-up) that say what
// they looked for when the file has another shape, and copies of the blocks to change.

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// block is one instruction (with the continuation lines it spans) or one comment or
// blank line outside an instruction.
type block struct {
	lines   []string // the raw lines, as in the file
	keyword string   // upper-case instruction keyword; "" for a comment or a blank line
	text    string   // the instruction without its keyword, continuations joined
}

// Dockerfile is a parsed Dockerfile that can be edited and written back.
type Dockerfile struct {
	blocks []block
}

// stage is the range of blocks from one FROM to the next.
type stage struct {
	name       string // the name after AS, lower-cased; "" when unnamed
	from, next int    // index of the FROM block; index of the next stage's FROM (or len)
}

var (
	escapeDirectiveRE = regexp.MustCompile(`(?i)^#\s*escape\s*=\s*(\S)`)
	heredocRE         = regexp.MustCompile(`<<-?["']?[A-Za-z_]`)
	fromAsRE          = regexp.MustCompile(`(?i)\s+AS\s+(\S+)\s*$`)
	copyFromRE        = regexp.MustCompile(`(?i)(?:^|\s)--from=(\S+)`)
	goBuildRE         = regexp.MustCompile(`\bgo build\b`)
	cacheMountRE      = regexp.MustCompile(`--mount=(?:[^\s]*,)?type=cache\b`)
)

// ParseDockerfile splits a Dockerfile into blocks. It supports what this project's
// Dockerfile uses (the default escape character, no here-documents) and says so
// plainly when a file needs more.
func ParseDockerfile(source string) (Dockerfile, error) {
	var df Dockerfile
	lines := strings.Split(strings.TrimSuffix(source, "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		line := lines[i]
		trimmed := strings.TrimSpace(line)
		if m := escapeDirectiveRE.FindStringSubmatch(trimmed); m != nil && len(df.instructions()) == 0 && m[1] != `\` {
			return Dockerfile{}, fmt.Errorf("the Dockerfile sets the escape character to %q; the demo reads Dockerfiles that keep the default backslash", m[1])
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			df.blocks = append(df.blocks, block{lines: []string{line}})
			continue
		}
		b := block{lines: []string{line}}
		var parts []string
		for {
			content := strings.TrimRight(line, " \t")
			continued := strings.HasSuffix(content, `\`)
			parts = append(parts, strings.TrimSpace(strings.TrimSuffix(content, `\`)))
			if !continued || i+1 >= len(lines) {
				break
			}
			i++
			line = lines[i]
			b.lines = append(b.lines, line)
			// Comment lines inside a continued instruction are dropped by the parser.
			for strings.HasPrefix(strings.TrimSpace(line), "#") && i+1 < len(lines) {
				i++
				line = lines[i]
				b.lines = append(b.lines, line)
			}
		}
		joined := strings.Join(parts, " ")
		keyword, rest, _ := strings.Cut(joined, " ")
		b.keyword = strings.ToUpper(keyword)
		b.text = strings.TrimSpace(rest)
		if heredocRE.MatchString(b.text) && (b.keyword == "RUN" || b.keyword == "COPY") {
			return Dockerfile{}, fmt.Errorf("line %q uses a here-document, which the demo cannot edit", strings.TrimSpace(b.lines[0]))
		}
		df.blocks = append(df.blocks, b)
	}
	if len(df.stages()) == 0 {
		return Dockerfile{}, errors.New("the Dockerfile has no FROM line")
	}
	return df, nil
}

// String writes the Dockerfile back, with every untouched line as it was.
func (df Dockerfile) String() string {
	var b strings.Builder
	for _, bl := range df.blocks {
		for _, line := range bl.lines {
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

func (df Dockerfile) instructions() []block {
	var out []block
	for _, b := range df.blocks {
		if b.keyword != "" {
			out = append(out, b)
		}
	}
	return out
}

func (df Dockerfile) stages() []stage {
	var out []stage
	for i, b := range df.blocks {
		if b.keyword != "FROM" {
			continue
		}
		if len(out) > 0 {
			out[len(out)-1].next = i
		}
		name := ""
		if m := fromAsRE.FindStringSubmatch(b.text); m != nil {
			name = strings.ToLower(m[1])
		}
		out = append(out, stage{name: name, from: i, next: len(df.blocks)})
	}
	return out
}

// builderStage is the stage the final stage copies its files from: in this project the
// Go toolchain stage that compiles the binary.
func (df Dockerfile) builderStage() (stage, error) {
	stages := df.stages()
	final := stages[len(stages)-1]
	for i := final.from + 1; i < final.next; i++ {
		b := df.blocks[i]
		if b.keyword != "COPY" {
			continue
		}
		if m := copyFromRE.FindStringSubmatch(b.text); m != nil {
			for _, s := range stages[:len(stages)-1] {
				if s.name != "" && s.name == strings.ToLower(m[1]) {
					return s, nil
				}
			}
		}
	}
	return stage{}, errors.New("the final stage copies nothing from an earlier stage (no `COPY --from=<stage>`): the demo needs a builder stage whose binary the final stage copies")
}

// stageLabel names a stage in messages.
func (s stage) label() string {
	if s.name == "" {
		return "the builder stage"
	}
	return fmt.Sprintf("stage %q", s.name)
}

// find returns the index of the first block in [from, to) that matches, or -1.
func (df Dockerfile) find(from, to int, match func(block) bool) int {
	for i := from; i < to; i++ {
		if df.blocks[i].keyword != "" && match(df.blocks[i]) {
			return i
		}
	}
	return -1
}

// sourceCopy is the builder stage's copy of the whole build context, the step a source
// change reruns: `COPY . <dir>`, or `COPY --from=<stage> / <dir>` from a context stage.
func (df Dockerfile) sourceCopy(s stage) (int, error) {
	contexts := df.contextStages()
	i := df.find(s.from+1, s.next, func(b block) bool {
		fields := strings.Fields(b.text)
		if b.keyword != "COPY" {
			return false
		}
		if len(fields) == 2 && fields[0] == "." {
			return true
		}
		m := copyFromRE.FindStringSubmatch(b.text)
		return m != nil && contexts[strings.ToLower(m[1])] && len(fields) == 3 && fields[1] == "/"
	})
	if i < 0 {
		return -1, fmt.Errorf("%s has no `COPY . <dir>` (or `COPY --from=<context stage> / <dir>`) that brings in the source", s.label())
	}
	return i, nil
}

// contextStages names the stages that hold nothing but the build context: `FROM
// [--platform=...] scratch` and one `COPY [--chmod=...] . /`. This project's `checkout` stage is one; it
// gives the files the same modes from any checkout.
func (df Dockerfile) contextStages() map[string]bool {
	found := map[string]bool{}
	for _, st := range df.stages() {
		from := strings.Fields(df.blocks[st.from].text)
		for len(from) > 0 && strings.HasPrefix(from[0], "--") {
			from = from[1:] // --platform=...
		}
		if st.name == "" || len(from) == 0 || !strings.EqualFold(from[0], "scratch") {
			continue
		}
		var copies []string
		for i := st.from + 1; i < st.next; i++ {
			if b := df.blocks[i]; b.keyword != "" {
				copies = append(copies, b.keyword+" "+b.text)
			}
		}
		if len(copies) != 1 {
			continue
		}
		fields := strings.Fields(copies[0])
		args := fields[1:]
		for len(args) > 0 && strings.HasPrefix(args[0], "--chmod=") {
			args = args[1:]
		}
		if fields[0] == "COPY" && len(args) == 2 && args[0] == "." && args[1] == "/" {
			found[st.name] = true
		}
	}
	return found
}

// compileStep is the last RUN of the builder stage, which must run `go build`.
func (df Dockerfile) compileStep(s stage) (int, error) {
	last := -1
	for i := s.from + 1; i < s.next; i++ {
		if df.blocks[i].keyword == "RUN" {
			last = i
		}
	}
	if last < 0 || !goBuildRE.MatchString(df.blocks[last].text) {
		return -1, fmt.Errorf("the last RUN of %s does not run `go build`: the demo cannot find the compile step", s.label())
	}
	return last, nil
}

// warmUp finds what the builder stage compiles ahead of the source: its RUN steps with
// `go build` before the source copy, and its `COPY --from=<stage>` lines before it that bring
// in what an earlier stage compiled (a stage that runs `go build` itself, such as one
// that compiles the standard library). It returns the indexes of those instructions
// and the stages they copy from.
func (df Dockerfile) warmUp(s stage) (steps []int, stages []stage, err error) {
	source, err := df.sourceCopy(s)
	if err != nil {
		return nil, nil, err
	}
	compiling := map[string]stage{}
	for _, other := range df.stages() {
		if other.name == "" || other.from == s.from {
			continue
		}
		if df.find(other.from+1, other.next, func(b block) bool {
			return b.keyword == "RUN" && goBuildRE.MatchString(b.text)
		}) >= 0 {
			compiling[other.name] = other
		}
	}
	seen := map[string]bool{}
	for i := s.from + 1; i < source; i++ {
		b := df.blocks[i]
		switch b.keyword {
		case "RUN":
			if goBuildRE.MatchString(b.text) {
				steps = append(steps, i)
			}
		case "COPY":
			if m := copyFromRE.FindStringSubmatch(b.text); m != nil {
				if from, ok := compiling[strings.ToLower(m[1])]; ok {
					steps = append(steps, i)
					if !seen[from.name] {
						seen[from.name] = true
						stages = append(stages, from)
					}
				}
			}
		}
	}
	if len(steps) == 0 {
		return nil, nil, fmt.Errorf("%s has no warm-up step (a RUN with `go build`, or a `COPY --from` of a stage that runs `go build`, before the source copy)", s.label())
	}
	return steps, stages, nil
}

// dropWithComments marks block i and the comment lines right above it (up to a blank
// line), which speak of it, as dropped.
func (df Dockerfile) dropWithComments(i int, dropped map[int]bool) {
	dropped[i] = true
	for j := i - 1; j >= 0 && df.blocks[j].keyword == ""; j-- {
		if !strings.HasPrefix(strings.TrimSpace(df.blocks[j].lines[0]), "#") {
			return
		}
		dropped[j] = true
	}
}

// usedElsewhere reports whether an instruction outside the dropped blocks names the
// stage: `COPY --from=<name>`, `RUN --mount=...,from=<name>` or `FROM <name>`.
func (df Dockerfile) usedElsewhere(name string, dropped map[int]bool) bool {
	fromRE := regexp.MustCompile(`(?i)(?:^|[,\s])(?:--)?from=` + regexp.QuoteMeta(name) + `(?:[,\s]|$)`)
	for i, b := range df.blocks {
		if dropped[i] || b.keyword == "" {
			continue
		}
		if fromRE.MatchString(b.text) {
			return true
		}
		if b.keyword == "FROM" {
			for _, field := range strings.Fields(b.text) {
				if !strings.HasPrefix(field, "--") {
					if strings.EqualFold(field, name) {
						return true
					}
					break // the image; what follows is AS <name>
				}
			}
		}
	}
	return false
}

// withBlocks returns a copy whose blocks are replaced; the original stays intact.
func (df Dockerfile) withBlocks(blocks []block) Dockerfile {
	return Dockerfile{blocks: blocks}
}

func (df Dockerfile) copyBlocks() []block {
	out := make([]block, len(df.blocks))
	for i, b := range df.blocks {
		out[i] = block{lines: append([]string(nil), b.lines...), keyword: b.keyword, text: b.text}
	}
	return out
}

// declares reports whether an ARG instruction declares name (`ARG name` or
// `ARG name=default`, possibly among several names).
func declares(b block, name string) bool {
	if b.keyword != "ARG" {
		return false
	}
	for _, field := range strings.Fields(b.text) {
		if key, _, _ := strings.Cut(field, "="); key == name {
			return true
		}
	}
	return false
}
