package main

// The scenarios: each caching pitfall as two variants built the same way,
// the project's Dockerfile (good) and a variant made from it by an Edit (bad).
// The rootless scenario has no bad variant: its two variants are the two directions in
// which the CI file's two builders can share one registry cache.
//
// To add a scenario, add its variants (or reuse ours) and one entry to scenarios();
// the runner shares every build that two scenarios have in common.

import (
	"fmt"
	"strings"
)

// Driver is the kind of builder a variant builds on.
type Driver string

const (
	// containerDriver: a new docker-container builder for every build, as a CI job has.
	containerDriver Driver = "docker-container"
	// dockerDriver: the builder of the current docker context (BuildKit inside dockerd).
	dockerDriver Driver = "docker"
	// rootlessDriver: rootless BuildKit as the rootless CI job runs it, a new container
	// of the pinned "-rootless" image for every build (`buildctl-daemonless.sh build`,
	// uid 1000, not privileged).
	rootlessDriver Driver = "rootless"
)

// CacheKind is how a variant exports its cache in the cold build.
type CacheKind string

const (
	cacheMax    CacheKind = "registry cache in mode=max"
	cacheMin    CacheKind = "registry cache in mode=min"
	cacheInline CacheKind = "inline cache"
)

// Variant is one way of building the project: a Dockerfile, a cache export, a builder.
type Variant struct {
	Key        string // unique; names its cache tag and image tags
	Title      string // the heading of its column
	Dockerfile string // the name of its Dockerfile; variants with the same one share a cold build
	Edit       Edit   // how that Dockerfile is made from the project's; nil: as it is
	Cache      CacheKind
	Driver     Driver // the builder of the cold build
	// RebuildOn is the builder of the rebuild after the edit; "" means Driver's kind.
	RebuildOn Driver
	// SameBuilderRebuild adds a rebuild on the builder that ran the cold build, to show
	// what that builder kept that a new one does not get.
	SameBuilderRebuild bool
	// OwnColdBuild keeps the variant out of a shared cold build. A mode=min export
	// made in the same build as a mode=max one held the module download's layer
	// (BuildKit v0.34), which a min export made alone does not.
	OwnColdBuild bool
}

// rebuildDriver is the kind of builder the variant's rebuild runs on.
func (v *Variant) rebuildDriver() Driver {
	if v.RebuildOn != "" {
		return v.RebuildOn
	}
	return v.Driver
}

// coldGroup names the cold build a variant takes part in.
func (v *Variant) coldGroup() string {
	group := v.Dockerfile + "-" + string(v.Driver)
	if v.OwnColdBuild {
		group += "-" + v.Key
	}
	return group
}

// Scenario is one lesson: the good variant, the bad one and what their results mean.
type Scenario struct {
	Name    string
	About   string // one line for `list`
	Pitfall string // the heading of its pitfall in the explainer, without the number
	Good    *Variant
	Bad     *Variant // nil for the default scenario, which has no bad variant
	// Columns names the two variants in the report; empty means "good" and "bad".
	// A scenario whose variants are two equally good ways names them instead.
	Columns [2]string
	Explain func(Outcome) string
}

// columns returns the names of the scenario's two variants in the report.
func (s *Scenario) columns() (string, string) {
	if s.Columns[0] != "" && s.Columns[1] != "" {
		return s.Columns[0], s.Columns[1]
	}
	return "good", "bad"
}

// Outcome is what the runner measured for a scenario's variants.
type Outcome struct {
	Good, Bad *Result
}

// Result is what one variant's builds gave.
type Result struct {
	Variant     *Variant
	Change      string // what the Edit changed; "" for the project's Dockerfile
	Cold        Build
	Rebuild     *Build // a brand-new builder after the edit; nil when there was none
	SameBuilder *Build // the cold build's builder after the edit, if asked for
	CacheStored bool   // the cache image was in the registry after the cold build
	Store       string // the engine's image store (docker driver only)
}

// goCache is Go's build cache in the golang image (GOCACHE defaults to $HOME/.cache/go-build).
const goCache = "/root/.cache/go-build"

var (
	ours = &Variant{Key: "ours", Title: "your Dockerfile, mode=max", Dockerfile: "as-is",
		Cache: cacheMax, Driver: containerDriver}
	argAtTop = &Variant{Key: "arg-at-top", Title: "ARG GIT_COMMIT at the top", Dockerfile: "arg-at-top",
		Edit: MoveArgToTop("GIT_COMMIT"), Cache: cacheMax, Driver: containerDriver}
	modeMin = &Variant{Key: "mode-min", Title: "your Dockerfile, mode=min", Dockerfile: "as-is",
		Cache: cacheMin, Driver: containerDriver, OwnColdBuild: true}
	inline = &Variant{Key: "inline", Title: "your Dockerfile, inline cache", Dockerfile: "as-is",
		Cache: cacheInline, Driver: containerDriver}
	noWarmUp = &Variant{Key: "no-warm-up", Title: "without the warm-up step", Dockerfile: "no-warm-up",
		Edit: DropWarmUp, Cache: cacheMax, Driver: containerDriver}
	cacheMount = &Variant{Key: "cache-mount", Title: "cache mount, no warm-up", Dockerfile: "cache-mount",
		Edit: CacheMountInsteadOfWarmUp(goCache), Cache: cacheMax, Driver: containerDriver,
		SameBuilderRebuild: true}
	engineDriver = &Variant{Key: "docker-driver", Title: "the docker driver", Dockerfile: "as-is",
		Cache: cacheMax, Driver: dockerDriver}
	// The two directions between the builders: a cache one kind wrote, read by the other.
	// rootlessReads takes part in the cold build of ours, with a cache ref of its own.
	rootlessReads = &Variant{Key: "rootless-reads", Title: "docker-container, then rootless", Dockerfile: "as-is",
		Cache: cacheMax, Driver: containerDriver, RebuildOn: rootlessDriver}
	rootlessWrites = &Variant{Key: "rootless-writes", Title: "rootless, then docker-container", Dockerfile: "as-is",
		Cache: cacheMax, Driver: rootlessDriver, RebuildOn: containerDriver}
)

const defaultScenario = "registry-cache"

func scenarios() []*Scenario {
	return []*Scenario{
		{
			Name:    defaultScenario,
			About:   "the registry cache at work: a cold build, a source edit, a rebuild on a brand-new builder",
			Good:    ours,
			Explain: explainRegistryCache,
		},
		{
			Name:    "arg-at-top",
			About:   "ARG GIT_COMMIT declared at the top of the builder stage instead of right before the compile",
			Pitfall: "An ARG declared too early",
			Good:    ours, Bad: argAtTop,
			Explain: explainReran("With `ARG GIT_COMMIT` at the top of the builder stage and a new commit"),
		},
		{
			Name:    "mode-min",
			About:   "the registry cache exported with mode=min (the default) instead of mode=max",
			Pitfall: "mode=min forgets the builder stage",
			Good:    ours, Bad: modeMin,
			Explain: explainReran("With the cache exported in mode=min"),
		},
		{
			Name:    "inline-cache",
			About:   "the cache written into the pushed image (type=inline) instead of a cache image",
			Pitfall: "Inline cache has the same blind spot",
			Good:    ours, Bad: inline,
			Explain: explainReran("With the inline cache, read back from the pushed image"),
		},
		{
			Name:    "docker-driver",
			About:   "the engine's own builder (docker driver) asked to export a registry cache",
			Pitfall: "The docker driver and the classic image store",
			Good:    ours, Bad: engineDriver,
			Explain: explainDockerDriver,
		},
		{
			Name:    "cache-mount",
			About:   "a cache mount on Go's build cache instead of the warm-up step",
			Pitfall: "Cache mounts never reach the registry",
			Good:    ours, Bad: cacheMount,
			Explain: explainCacheMount,
		},
		{
			Name:    "no-warm-up",
			About:   "the Dockerfile without its warm-up step: the compile starts from an empty Go cache",
			Pitfall: "Go's own build cache is not a layer",
			Good:    ours, Bad: noWarmUp,
			Explain: explainNoWarmUp,
		},
		{
			Name:    "rootless",
			About:   "rootless BuildKit (builder=rootless) rebuilding from the cache a docker-container builder wrote, and the reverse",
			Pitfall: "Privileged docker-in-docker means trusting the job",
			Good:    rootlessReads, Bad: rootlessWrites,
			Columns: [2]string{"buildx->rootless", "rootless->buildx"},
			Explain: explainRootless,
		},
	}
}

// selectScenarios turns the names asked for ("", one name, "a,b" or "all") into scenarios.
func selectScenarios(spec string) ([]*Scenario, error) {
	all := scenarios()
	spec = strings.TrimSpace(spec)
	if spec == "" {
		spec = defaultScenario
	}
	if spec == "all" {
		return all, nil
	}
	var chosen []*Scenario
	seen := map[string]bool{}
	for _, name := range strings.Split(spec, ",") {
		name = strings.TrimSpace(name)
		found := false
		for _, s := range all {
			if s.Name == name {
				found = true
				if !seen[name] {
					chosen = append(chosen, s)
					seen[name] = true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no scenario %q; run `make cache-demo SCENARIO=list` to see them", name)
		}
	}
	return chosen, nil
}

// listScenarios is what `make cache-demo SCENARIO=list` prints.
func listScenarios() string {
	var b strings.Builder
	b.WriteString("Scenarios (make cache-demo SCENARIO=<name>; several: SCENARIO=a,b):\n")
	for _, s := range scenarios() {
		about := s.About
		if s.Name == defaultScenario {
			about += " (the default)"
		}
		fmt.Fprintf(&b, "  %-15s %s\n", s.Name, about)
		if s.Pitfall != "" {
			fmt.Fprintf(&b, "  %-15s pitfall: %s\n", "", s.Pitfall)
		}
	}
	fmt.Fprintf(&b, "  %-15s %s\n", "all", "every scenario above, sharing the builds they have in common")
	return b.String()
}
