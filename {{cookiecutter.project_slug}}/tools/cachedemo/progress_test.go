package main

import (
	"strings"
	"testing"
)

// A rebuild after a source edit, cut down to what the parser looks at. It has the
// trap: the warm-up step is never marked cached, but its only activity is moving
// cached layers. Plain lines between the objects are what buildx may print.
const sampleStream = `{
  "vertexes": [
    {"digest": "sha256:d0", "name": "[internal] load build definition from Dockerfile",
     "started": "2026-01-02T10:00:00Z", "completed": "2026-01-02T10:00:00.1Z"},
    {"digest": "sha256:r1", "name": "[runtime 1/2] FROM gcr.io/distroless/static-debian13:nonroot",
     "cached": true, "started": "2026-01-02T10:00:00.2Z", "completed": "2026-01-02T10:00:00.3Z"},
    {"digest": "sha256:b1", "name": "[builder 1/7] FROM docker.io/library/golang:1.27.4",
     "cached": true, "started": "2026-01-02T10:00:00.2Z", "completed": "2026-01-02T10:00:00.3Z"}
  ]
}
WARNING: a plain line between two objects
{
  "vertexes": [
    {"digest": "sha256:b4", "inputs": ["sha256:b1"], "name": "[builder 4/7] RUN go mod download",
     "cached": true, "started": "2026-01-02T10:00:01Z", "completed": "2026-01-02T10:00:01Z"}
  ]
}
{
  "vertexes": [
    {"digest": "sha256:b4", "name": "[builder 4/7] RUN go mod download",
     "started": "2026-01-02T10:00:01Z", "completed": "2026-01-02T10:00:02Z"},
    {"digest": "sha256:b5", "inputs": ["sha256:b4"], "name": "[builder 5/7] RUN go build std",
     "started": "2026-01-02T10:00:01Z", "completed": "2026-01-02T10:00:09Z"}
  ],
  "statuses": [
    {"id": "sha256:96e0747043434ee732e014b353c1", "vertex": "sha256:b5", "total": 79109564},
    {"id": "extracting sha256:96e0747043434ee732e014b353c1", "vertex": "sha256:b5", "name": "extracting"}
  ]
}
{
  "vertexes": [
    {"digest": "sha256:b6", "inputs": ["sha256:b5"], "name": "[builder 6/7] COPY . .",
     "started": "2026-01-02T10:00:09Z", "completed": "2026-01-02T10:00:09.25Z"},
    {"digest": "sha256:b7", "inputs": ["sha256:b6"], "name": "[builder 7/7] RUN go build -ldflags=\"-s -w\" -o /out/app .",
     "started": "2026-01-02T10:00:09.3Z", "completed": "2026-01-02T10:00:09.8Z"}
  ],
  "logs": [
    {"vertex": "sha256:b7", "stream": 2, "data": "Y29tcGlsaW5nCg=="}
  ]
}
{
  "vertexes": [
    {"digest": "sha256:r2", "inputs": ["sha256:r1", "sha256:b7"], "name": "[runtime 2/2] COPY --from=builder /out/app /app",
     "started": "2026-01-02T10:00:09.9Z", "completed": "2026-01-02T10:00:10Z"},
    {"digest": "sha256:x9", "name": "[runtime 3/3] RUN never-started"}
  ]
}
ERROR: a failure line at the end
`

func TestParseStepsClassifiesAndOrders(t *testing.T) {
	steps := ParseSteps([]byte(sampleStream))
	want := []struct{ label, status string }{
		{"[builder 1] FROM docker.io/library/golang:1.27.4", cached},
		{"[builder 4] RUN go mod download", cached},
		{"[builder 5] RUN go build std", cached},
		{"[builder 6] COPY . .", executed},
		{`[builder 7] RUN go build -ldflags="-s -w" -o /out/app .`, executed},
		{"[runtime 1] FROM gcr.io/distroless/static-debian13:nonroot", cached},
		{"[runtime 2] COPY --from=builder /out/app /app", executed},
		{"[runtime 3] RUN never-started", notRun},
	}
	if len(steps) != len(want) {
		t.Fatalf("got %d steps, want %d:\n%s", len(steps), len(want), RenderTable(steps))
	}
	for i, w := range want {
		if steps[i].Label() != w.label || steps[i].Status != w.status {
			t.Errorf("step %d: got %q %s, want %q %s", i, steps[i].Label(), steps[i].Status, w.label, w.status)
		}
	}
	if steps[2].Reason == "" {
		t.Errorf("the warm-up step should say it was imported from the cache")
	}
	if got := steps[4].Seconds; got < 0.49 || got > 0.51 {
		t.Errorf("compile step seconds = %.3f, want 0.5", got)
	}
}

func TestExplainNamesWhatRan(t *testing.T) {
	steps := ParseSteps([]byte(sampleStream))
	got := Explain(steps, 50, 12.5)
	for _, part := range []string{
		"the module download and the standard-library warm-up among them",
		"only the copy of the source (`COPY . .`), the compile and the copy of the binary",
		"12.5 s instead of the cold build's 50.0 s",
	} {
		if !strings.Contains(got, part) {
			t.Errorf("sentence %q lacks %q", got, part)
		}
	}
	for i := range steps {
		if strings.HasPrefix(steps[i].Text, "RUN go mod download") {
			steps[i].Status = executed
		}
	}
	if got := Explain(steps, 50, 40); !strings.Contains(got, "mode=max") {
		t.Errorf("a rerun download should point at the cache mode: %q", got)
	}
}

func TestRenderTableAndEmptyStream(t *testing.T) {
	if got := RenderTable(ParseSteps([]byte("no json here"))); !strings.Contains(got, "no Dockerfile steps") {
		t.Errorf("empty stream: got %q", got)
	}
	table := RenderTable(ParseSteps([]byte(sampleStream)))
	if !strings.HasPrefix(table, "step") || !strings.Contains(table, "imported from the registry cache") {
		t.Errorf("unexpected table:\n%s", table)
	}
	long := Step{Stage: "builder", Number: 5, Text: strings.Repeat("x", 100)}
	if len(long.Label()) != 72 || !strings.HasSuffix(long.Label(), "...") {
		t.Errorf("long labels are cut to 72 characters: %q", long.Label())
	}
}
