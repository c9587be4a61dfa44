package main

import (
	"os"
	"sort"
	"strings"
	"testing"
)

// A small Dockerfile with the shape the edits need, comments and continuations included.
const shapedDockerfile = `# syntax=docker/dockerfile:1
ARG GO_IMAGE=golang:1
FROM ${GO_IMAGE} AS Builder
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# warm-up
RUN go build std && \
    echo done
COPY . .
ARG VERSION=dev
ARG GIT_COMMIT=unknown
RUN go build \
    # a comment inside the instruction
    -ldflags="-X main.commit=${GIT_COMMIT}" -o /out/app .

FROM scratch
COPY --from=builder /out/app /app
ARG GIT_COMMIT=unknown
LABEL commit="${GIT_COMMIT}"
`

// The same with the warm-up split as the project's Dockerfile splits it: a stage that
// compiles the standard library, copied into the builder before the dependency warm-up.
// Like the project's, it also copies the context through a `checkout` stage.
const stdStageDockerfile = `ARG GO_IMAGE=golang:1
FROM --platform=$BUILDPLATFORM scratch AS checkout
COPY --chmod=u=rwX,go=rX . /

FROM ${GO_IMAGE} AS std
RUN go build std

FROM ${GO_IMAGE} AS builder
WORKDIR /src
COPY --from=checkout /go.mod /go.sum ./
RUN go mod download
COPY --link --from=std /root/.cache/go-build /root/.cache/go-build
# dependency warm-up
RUN deps="$(go list -m all)" && \
    go build $deps
COPY --from=checkout / .
ARG GIT_COMMIT=unknown
RUN go build -ldflags="-X main.commit=${GIT_COMMIT}" -o /out/app .

FROM scratch
COPY --from=builder /out/app /app
`

func mustParse(t *testing.T, source string) Dockerfile {
	t.Helper()
	df, err := ParseDockerfile(source)
	if err != nil {
		t.Fatalf("ParseDockerfile: %v", err)
	}
	return df
}

func mustEdit(t *testing.T, edit Edit, df Dockerfile) (Dockerfile, string) {
	t.Helper()
	out, what, err := edit(df)
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	if what == "" {
		t.Error("the edit says nothing about what it changed")
	}
	return out, what
}

// lineIndex returns the index of the first line that starts with prefix, or -1.
func lineIndex(text, prefix string) int {
	for i, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), prefix) {
			return i
		}
	}
	return -1
}

func sortedLines(text string) []string {
	lines := strings.Split(text, "\n")
	sort.Strings(lines)
	return lines
}

func TestParseWritesTheFileBackUnchanged(t *testing.T) {
	df := mustParse(t, shapedDockerfile)
	if got := df.String(); got != shapedDockerfile {
		t.Errorf("round trip changed the file:\n%s", got)
	}
	s, err := df.builderStage()
	if err != nil || s.name != "builder" {
		t.Fatalf("builderStage: got %+v, %v; want the stage named builder (AS is case-insensitive)", s, err)
	}
	compile, err := df.compileStep(s)
	if err != nil || !strings.Contains(df.blocks[compile].text, "-ldflags") {
		t.Errorf("compileStep: got %q, %v", df.blocks[compile].text, err)
	}
	if strings.Contains(df.blocks[compile].text, "a comment inside") {
		t.Errorf("a comment line inside an instruction became part of it: %q", df.blocks[compile].text)
	}
}

func TestMoveArgToTop(t *testing.T) {
	df := mustParse(t, shapedDockerfile)
	out, what := mustEdit(t, MoveArgToTop("GIT_COMMIT"), df)
	text := out.String()
	from := lineIndex(text, "FROM ${GO_IMAGE} AS Builder")
	arg := lineIndex(text, "ARG GIT_COMMIT")
	download := lineIndex(text, "RUN go mod download")
	if arg != from+1 || arg > download {
		t.Errorf("ARG GIT_COMMIT is on line %d, want %d (right after FROM, before the download):\n%s", arg, from+1, text)
	}
	// Only the builder stage's ARG moved: the runtime stage still declares its own.
	if strings.Count(text, "ARG GIT_COMMIT=unknown") != 2 || lineIndex(text, "LABEL") < lineIndex(text, "FROM scratch") {
		t.Errorf("the runtime stage changed:\n%s", text)
	}
	if got, want := sortedLines(text), sortedLines(shapedDockerfile); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("the edit added or lost lines:\n%s", text)
	}
	if !strings.Contains(what, "ARG GIT_COMMIT=unknown") {
		t.Errorf("description %q does not name the moved line", what)
	}
}

func TestDropWarmUp(t *testing.T) {
	out, _ := mustEdit(t, DropWarmUp, mustParse(t, shapedDockerfile))
	text := out.String()
	if strings.Contains(text, "go build std") || strings.Contains(text, "echo done") {
		t.Errorf("the warm-up (both of its lines) should be gone:\n%s", text)
	}
	if lineIndex(text, "RUN go mod download") < 0 || lineIndex(text, "RUN go build \\") < 0 {
		t.Errorf("other steps went missing:\n%s", text)
	}
}

func TestDropWarmUpRemovesTheStdStageAndItsCopy(t *testing.T) {
	out, what := mustEdit(t, DropWarmUp, mustParse(t, stdStageDockerfile))
	text := out.String()
	for _, gone := range []string{"AS std", "go build std", "--from=std", "go list -m", "go build $deps"} {
		if strings.Contains(text, gone) {
			t.Errorf("%q should be gone:\n%s", gone, text)
		}
	}
	for _, kept := range []string{"FROM --platform=$BUILDPLATFORM scratch AS checkout", "COPY --chmod=u=rwX,go=rX . /", "FROM ${GO_IMAGE} AS builder", "RUN go mod download", "COPY --from=checkout / .", "RUN go build -ldflags", "COPY --from=builder"} {
		if lineIndex(text, kept) < 0 {
			t.Errorf("%q went missing:\n%s", kept, text)
		}
	}
	if _, err := ParseDockerfile(text); err != nil {
		t.Errorf("the variant does not parse: %v", err)
	}
	for _, named := range []string{"the stage `std`", "`COPY --link --from=std", "`RUN deps="} {
		if !strings.Contains(what, named) {
			t.Errorf("description %q does not name %s", what, named)
		}
	}
}

// A stage that the runtime stage (or anything else) still uses stays; only the builder's
// copy of it goes.
func TestDropWarmUpKeepsAStageUsedElsewhere(t *testing.T) {
	source := stdStageDockerfile + "COPY --from=std /usr/local/go/VERSION /go-version\n"
	out, _ := mustEdit(t, DropWarmUp, mustParse(t, source))
	text := out.String()
	if lineIndex(text, "FROM ${GO_IMAGE} AS std") < 0 || lineIndex(text, "RUN go build std") < 0 {
		t.Errorf("the std stage is still used by the runtime stage and must stay:\n%s", text)
	}
	if strings.Contains(text, "/root/.cache/go-build /root/.cache/go-build") {
		t.Errorf("the builder's copy of the std stage should be gone:\n%s", text)
	}
}

func TestCacheMountInsteadOfWarmUpDropsTheStdStage(t *testing.T) {
	out, _ := mustEdit(t, CacheMountInsteadOfWarmUp("/root/.cache/go-build"), mustParse(t, stdStageDockerfile))
	text := out.String()
	if !strings.Contains(text, "RUN --mount=type=cache,target=/root/.cache/go-build go build -ldflags") {
		t.Errorf("the compile step has no cache mount:\n%s", text)
	}
	if strings.Contains(text, "go build std") || strings.Contains(text, "--from=std") || strings.Contains(text, "go list -m") {
		t.Errorf("the warm-up should be gone:\n%s", text)
	}
}

func TestCacheMountInsteadOfWarmUp(t *testing.T) {
	out, _ := mustEdit(t, CacheMountInsteadOfWarmUp("/root/.cache/go-build"), mustParse(t, shapedDockerfile))
	text := out.String()
	if !strings.Contains(text, "RUN --mount=type=cache,target=/root/.cache/go-build go build \\\n") {
		t.Errorf("the compile step has no cache mount:\n%s", text)
	}
	if strings.Contains(text, "go build std") {
		t.Errorf("the warm-up should be gone:\n%s", text)
	}
	if _, _, err := CacheMountInsteadOfWarmUp("/x")(out); err == nil || !strings.Contains(err.Error(), "already has a cache mount") {
		t.Errorf("a second mount: got %v, want an error saying there is one already", err)
	}
}

func TestCountCompiledPackagesAddsVerboseToTheCompileOnly(t *testing.T) {
	out, _ := mustEdit(t, CountCompiledPackages, mustParse(t, shapedDockerfile))
	text := out.String()
	if strings.Count(text, "go build -v") != 1 || !strings.Contains(text, "RUN go build -v \\") {
		t.Errorf("want -v on the compile step only:\n%s", text)
	}
	if strings.Contains(text, "go build -v std") {
		t.Errorf("the warm-up got -v too:\n%s", text)
	}
}

// Every edit fails with a message naming what it looked for when the shape is wrong.
func TestEditsRefuseADockerfileOfAnotherShape(t *testing.T) {
	tests := []struct {
		name, dockerfile string
		edit             Edit
		want             string
	}{
		{"no builder stage", "FROM scratch\nCOPY app /app\n", DropWarmUp, "copies nothing from an earlier stage"},
		{"copy from an image", "FROM golang AS b\nRUN go build .\nFROM scratch\nCOPY --from=alpine /x /x\n", DropWarmUp, "copies nothing from an earlier stage"},
		{"no ARG", strings.Replace(shapedDockerfile, "ARG GIT_COMMIT=unknown\nRUN go build", "RUN go build", 1), MoveArgToTop("GIT_COMMIT"), "declares no `ARG GIT_COMMIT`"},
		{"ARG already at the top", strings.Replace(shapedDockerfile, "WORKDIR /src\n", "WORKDIR /src\nARG GIT_COMMIT\n", 1), MoveArgToTop("GIT_COMMIT"), "before its first RUN"},
		{"no warm-up", strings.Replace(shapedDockerfile, "RUN go build std && \\\n    echo done\n", "", 1), DropWarmUp, "no warm-up step"},
		{"no source copy", strings.Replace(shapedDockerfile, "COPY . .\n", "COPY main.go .\n", 1), DropWarmUp, "no `COPY . <dir>`"},
		{"source from a stage that is no context stage", strings.Replace(stdStageDockerfile, "COPY --from=checkout / .\n", "COPY --from=std / .\n", 1), DropWarmUp, "no `COPY . <dir>`"},
		{"context stage that copies more", strings.Replace(stdStageDockerfile, "COPY --chmod=u=rwX,go=rX . /\n", "COPY --chmod=u=rwX,go=rX . /\nCOPY extra /\n", 1), DropWarmUp, "no `COPY . <dir>`"},
		{"compile is not go build", strings.Replace(shapedDockerfile, "RUN go build \\\n", "RUN make \\\n", 1), CountCompiledPackages, "does not run `go build`"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df := mustParse(t, tt.dockerfile)
			_, _, err := tt.edit(df)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func TestParseRefusesWhatItCannotEdit(t *testing.T) {
	for name, source := range map[string]string{
		"escape":  "# escape=`\nFROM scratch\n",
		"heredoc": "FROM golang AS b\nRUN <<EOF\ngo build .\nEOF\n",
		"no FROM": "# nothing here\n",
	} {
		if _, err := ParseDockerfile(source); err == nil {
			t.Errorf("%s: ParseDockerfile accepted %q", name, source)
		}
	}
}

// The project's own Dockerfile still has the shape every scenario needs: a change that
// breaks an edit fails here, not halfway through `make cache-demo`.
func TestEveryVariantCanBeMadeFromTheProjectDockerfile(t *testing.T) {
	source, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := mustParse(t, string(source))
	if df.String() != string(source) {
		t.Fatal("the project's Dockerfile does not survive a round trip")
	}
	r := &runner{dockerfiles: map[string]string{}, changes: map[string]string{}}
	dir := t.TempDir()
	if err := os.Chdir("../.."); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir("tools/cachedemo")
	if err := r.prepareDockerfiles(variantsOf(scenarios()), dir); err != nil {
		t.Fatal(err)
	}
	for _, v := range variantsOf(scenarios()) {
		written, err := os.ReadFile(r.dockerfiles[v.Dockerfile])
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(written), "go build -v") {
			t.Errorf("%s: the compile step has no -v", v.Key)
		}
		if (v.Edit == nil) != (r.changes[v.Dockerfile] == "") {
			t.Errorf("%s: change %q does not match the edit", v.Key, r.changes[v.Dockerfile])
		}
	}
}
