package main

// Reading BuildKit's --progress=rawjson stream into a table of Dockerfile steps.
//
// Each step is "executed" (BuildKit ran it in this build), "cached" (its result came
// from a cache) or "not run" (the build ended before it started).
//
// The trap: when a step's result is imported from a registry cache and a later step
// needs its files, BuildKit downloads and unpacks the layer under the step's own
// vertex. That vertex then shows layer downloads and "extracting" and is NOT marked
// cached, although nothing ran. So a step counts as executed only when it is never
// marked cached and its activity is not just the moving of cached layers.

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	executed = "executed"
	cached   = "cached"
	notRun   = "not run"
)

// The names BuildKit gives Dockerfile steps, for example "[builder 4/7] RUN go mod
// download", "[linux/amd64 runtime 2/2] COPY ..." or "[ 3/5] RUN ..." (no stage name).
var stepRE = regexp.MustCompile(`^\[(?:([a-z0-9]+/[a-z0-9]+(?:/\w+)?(?:->[a-z0-9]+(?:/\w+)*)?) )?(?:([^\] /]+) )? *(\d+)/(\d+)\] (.*)$`)

// Status ids of layer transfers: a download is named by the layer digest, an unpack
// by "extracting sha256:...".
var layerStatusRE = regexp.MustCompile(`^(?:extracting )?sha256:[0-9a-f]{12,}`)

// solveStatus is one JSON object of the rawjson stream.
type solveStatus struct {
	Vertexes []struct {
		Digest    string     `json:"digest"`
		Inputs    []string   `json:"inputs"`
		Name      string     `json:"name"`
		Cached    bool       `json:"cached"`
		Started   *time.Time `json:"started"`
		Completed *time.Time `json:"completed"`
		Error     string     `json:"error"`
	} `json:"vertexes"`
	Statuses []struct {
		ID     string `json:"id"`
		Vertex string `json:"vertex"`
	} `json:"statuses"`
	Logs []struct {
		Vertex string `json:"vertex"`
		Data   []byte `json:"data"`
	} `json:"logs"`
}

// vertex is everything the stream said about one vertex, merged across updates.
type vertex struct {
	digest, name, errText string
	cached                bool
	started, completed    *time.Time
	statusIDs             []string
	logs                  []byte
	inputs                []string
}

// Step is one Dockerfile instruction of one stage.
type Step struct {
	Platform, Stage string
	Number          int
	Text            string
	Status          string
	Seconds         float64
	Reason          string
	Output          string // what the step printed (its log), if it ran
}

// Label is how the step is shown, e.g. "[builder 4/7] RUN go mod download".
func (s Step) Label() string {
	parts := []string{}
	for _, p := range []string{s.Platform, s.Stage, strconv.Itoa(s.Number)} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	label := "[" + strings.Join(parts, " ") + "] " + s.Text
	if len(label) > 72 {
		label = label[:69] + "..."
	}
	return label
}

// decodeObjects returns every JSON object in the stream. buildx may print plain lines
// (such as "ERROR: ...") between them, so undecodable text is skipped.
func decodeObjects(data []byte) []solveStatus {
	var out []solveStatus
	pos := 0
	for {
		i := bytes.IndexByte(data[pos:], '{')
		if i < 0 {
			return out
		}
		start := pos + i
		dec := json.NewDecoder(bytes.NewReader(data[start:]))
		var s solveStatus
		if err := dec.Decode(&s); err != nil {
			pos = start + 1
			continue
		}
		out = append(out, s)
		pos = start + int(dec.InputOffset())
	}
}

func mergeVertices(objects []solveStatus) (map[string]*vertex, []string) {
	byDigest := map[string]*vertex{}
	var order []string
	get := func(digest string) *vertex {
		v, ok := byDigest[digest]
		if !ok {
			v = &vertex{digest: digest}
			byDigest[digest] = v
			order = append(order, digest)
		}
		return v
	}
	for _, obj := range objects {
		for _, u := range obj.Vertexes {
			v := get(u.Digest)
			if u.Name != "" {
				v.name = u.Name
			}
			v.cached = v.cached || u.Cached
			if u.Started != nil {
				v.started = u.Started
			}
			if u.Completed != nil {
				v.completed = u.Completed
			}
			if u.Error != "" {
				v.errText = u.Error
			}
			if len(u.Inputs) > 0 {
				v.inputs = u.Inputs
			}
		}
		for _, s := range obj.Statuses {
			v := get(s.Vertex)
			v.statusIDs = append(v.statusIDs, s.ID)
		}
		for _, l := range obj.Logs {
			v := get(l.Vertex)
			v.logs = append(v.logs, l.Data...)
		}
	}
	return byDigest, order
}

// classify applies the rule described at the top of this file.
func classify(v *vertex) (status, reason string) {
	if v.cached {
		return cached, ""
	}
	if v.started == nil {
		return notRun, ""
	}
	onlyLayerMoves := len(v.statusIDs) > 0
	for _, id := range v.statusIDs {
		if !layerStatusRE.MatchString(id) {
			onlyLayerMoves = false
			break
		}
	}
	if onlyLayerMoves && len(v.logs) == 0 {
		return cached, "imported from the registry cache and unpacked"
	}
	return executed, ""
}

// ParseSteps turns a whole rawjson stream into its Dockerfile steps, in build order.
func ParseSteps(stream []byte) []Step {
	vertices, order := mergeVertices(decodeObjects(stream))
	var steps []Step
	stageOf := map[string]string{}
	needs := map[string]map[string]bool{}
	firstStart := map[string]time.Time{}
	var stepVertices []*vertex
	for _, digest := range order {
		v := vertices[digest]
		m := stepRE.FindStringSubmatch(v.name)
		if m == nil {
			continue // internal vertices, metadata loads, exporters
		}
		number, _ := strconv.Atoi(m[3])
		status, reason := classify(v)
		if status == executed && strings.HasPrefix(m[5], "FROM ") {
			reason = "base image: resolved, and pulled if a step needs its files"
		}
		seconds := 0.0
		if v.started != nil && v.completed != nil {
			seconds = max(0, v.completed.Sub(*v.started).Seconds())
		}
		steps = append(steps, Step{
			Platform: m[1], Stage: m[2], Number: number, Text: m[5],
			Status: status, Seconds: seconds, Reason: reason, Output: string(v.logs),
		})
		stepVertices = append(stepVertices, v)
		stageOf[digest] = m[2]
		if needs[m[2]] == nil {
			needs[m[2]] = map[string]bool{}
		}
		if v.started != nil && !strings.HasPrefix(m[5], "FROM ") {
			if first, ok := firstStart[m[2]]; !ok || v.started.Before(first) {
				firstStart[m[2]] = *v.started
			}
		}
	}
	// A stage comes after every stage it copies from; otherwise, by when its first
	// step after FROM started (a fully cached build gives all steps one start time).
	for i, v := range stepVertices {
		for _, input := range v.inputs {
			if other, ok := stageOf[input]; ok && other != steps[i].Stage {
				needs[steps[i].Stage][other] = true
			}
		}
	}
	rank := map[string]int{}
	for len(rank) < len(needs) {
		best := ""
		found := false
		for stage := range needs {
			if _, done := rank[stage]; done || !allRanked(needs[stage], rank) {
				continue
			}
			if !found || earlier(stage, best, firstStart) {
				best, found = stage, true
			}
		}
		if !found { // a cycle: should not happen; take any stage left
			for stage := range needs {
				if _, done := rank[stage]; !done && (!found || stage < best) {
					best, found = stage, true
				}
			}
		}
		rank[best] = len(rank)
	}
	sort.SliceStable(steps, func(i, j int) bool {
		a, b := steps[i], steps[j]
		if a.Platform != b.Platform {
			return a.Platform < b.Platform
		}
		if rank[a.Stage] != rank[b.Stage] {
			return rank[a.Stage] < rank[b.Stage]
		}
		return a.Number < b.Number
	})
	return steps
}

func allRanked(stages map[string]bool, rank map[string]int) bool {
	for stage := range stages {
		if _, ok := rank[stage]; !ok {
			return false
		}
	}
	return true
}

func earlier(a, b string, start map[string]time.Time) bool {
	ta, okA := start[a]
	tb, okB := start[b]
	switch {
	case okA && okB && !ta.Equal(tb):
		return ta.Before(tb)
	case okA != okB:
		return okA
	default:
		return a < b
	}
}

// RenderTable prints the steps as an aligned table: step, result, seconds.
func RenderTable(steps []Step) string {
	if len(steps) == 0 {
		return "(no Dockerfile steps in the progress stream)\n"
	}
	width := len("step")
	for _, s := range steps {
		width = max(width, len(s.Label()))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %-8s  %7s\n", width, "step", "result", "seconds")
	for _, s := range steps {
		note := ""
		if s.Reason != "" {
			note = "  (" + s.Reason + ")"
		}
		fmt.Fprintf(&b, "%-*s  %-8s  %7.2f%s\n", width, s.Label(), s.Status, s.Seconds, note)
	}
	return b.String()
}

// findStep returns the first step whose instruction starts with prefix.
func findStep(steps []Step, prefix string) (Step, bool) {
	for _, s := range steps {
		if strings.HasPrefix(s.Text, prefix) {
			return s, true
		}
	}
	return Step{}, false
}
