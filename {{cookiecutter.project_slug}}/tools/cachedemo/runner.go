package main

// Running the scenarios: every variant is built cold (exporting its cache), the source
// is edited once, then every variant is rebuilt on a brand-new builder that has only
// the registry cache, as a new CI job would (of the variant's RebuildOn kind, where it
// names one). Variants with the same Dockerfile and driver share one cold build that
// exports each of their caches, unless a variant asks for a cold build of its own.

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

const (
	editedFile = "main.go"
	cacheRepo  = "cachedemo/cache"
	imageRepo  = "cachedemo/app"
	// Common to every registry cache export: a plain OCI image manifest, as CI writes it.
	cacheFormat = "image-manifest=true,oci-mediatypes=true"
)

// runner holds what one run of the demo shares between scenarios.
type runner struct {
	out             io.Writer
	buildkitdConfig string
	suffix          string
	registry        string
	dockerfiles     map[string]string // Dockerfile name -> path of the written variant
	changes         map[string]string // Dockerfile name -> what its edit changed
	results         map[string]*Result
	keep            map[string]*Builder // cold-build builders kept for a same-builder rebuild
	builders        int
}

// variantsOf lists the variants the scenarios need, each once, in order.
func variantsOf(chosen []*Scenario) []*Variant {
	var out []*Variant
	seen := map[string]bool{}
	for _, s := range chosen {
		for _, v := range []*Variant{s.Good, s.Bad} {
			if v != nil && !seen[v.Key] {
				seen[v.Key] = true
				out = append(out, v)
			}
		}
	}
	return out
}

// prepareDockerfiles writes every variant's Dockerfile into dir, before anything is
// started, so a Dockerfile that no longer fits an edit stops the demo at once.
func (r *runner) prepareDockerfiles(variants []*Variant, dir string) error {
	source, err := os.ReadFile("Dockerfile")
	if err != nil {
		return err
	}
	df, err := ParseDockerfile(string(source))
	if err != nil {
		return fmt.Errorf("reading the Dockerfile: %w", err)
	}
	for _, v := range variants {
		if _, done := r.dockerfiles[v.Dockerfile]; done {
			continue
		}
		made, change := df, ""
		if v.Edit != nil {
			if made, change, err = v.Edit(df); err != nil {
				return fmt.Errorf("cannot make the %q variant from the Dockerfile: %w", v.Key, err)
			}
		}
		if made, _, err = CountCompiledPackages(made); err != nil {
			return fmt.Errorf("cannot make the %q variant from the Dockerfile: %w", v.Key, err)
		}
		path := filepath.Join(dir, "Dockerfile."+v.Dockerfile)
		if err := os.WriteFile(path, []byte(made.String()), 0o644); err != nil {
			return err
		}
		r.dockerfiles[v.Dockerfile] = path
		r.changes[v.Dockerfile] = change
	}
	return nil
}

func (r *runner) cacheRef(v *Variant) string {
	return r.registry + "/" + cacheRepo + ":" + v.Key
}

func (r *runner) coldImage(v *Variant) string {
	return r.registry + "/" + imageRepo + ":" + v.coldGroup()
}

func (r *runner) cacheTo(v *Variant) string {
	switch v.Cache {
	case cacheMin:
		return "type=registry,ref=" + r.cacheRef(v) + ",mode=min," + cacheFormat
	case cacheInline:
		return "type=inline"
	}
	return "type=registry,ref=" + r.cacheRef(v) + ",mode=max," + cacheFormat
}

func (r *runner) cacheFrom(v *Variant) string {
	if v.Cache == cacheInline {
		return "type=registry,ref=" + r.coldImage(v) // the records ride in the image
	}
	return "type=registry,ref=" + r.cacheRef(v)
}

func commitArgs(n int) []string {
	return []string{fmt.Sprintf("GIT_COMMIT=cachedemo-commit-%d", n), fmt.Sprintf("VERSION=demo-%d", n)}
}

// newBuilder creates a fresh builder of the given kind: the one place to add a kind.
func (r *runner) newBuilder(ctx context.Context, kind Driver) (*Builder, error) {
	r.builders++
	name := fmt.Sprintf("cachedemo-%s-%d", r.suffix, r.builders)
	switch kind {
	case containerDriver:
		return newContainerBuilder(ctx, r.buildkitdConfig, name)
	case rootlessDriver:
		return newRootlessBuilder(ctx, r.buildkitdConfig, name)
	}
	return nil, fmt.Errorf("the demo cannot create a fresh %s builder", kind)
}

// writerWords names the kind of builder that wrote a cache, for the progress lines.
func writerWords(kind Driver) string {
	if kind == rootlessDriver {
		return "rootless BuildKit"
	}
	return "a " + string(kind) + " builder"
}

// fresh says where a new builder of the kind runs, for the progress lines.
func fresh(kind Driver) string {
	if kind == rootlessDriver {
		return "rootless BuildKit in a new container"
	}
	return "a brand-new builder"
}

// coldBuilds runs one cold build per group of variants that share Dockerfile and driver
// (and do not ask for a cold build of their own).
func (r *runner) coldBuilds(ctx context.Context, variants []*Variant, undo *cleanups) error {
	type group struct {
		key     string
		members []*Variant
	}
	var groups []*group
	byKey := map[string]*group{}
	for _, v := range variants {
		key := v.coldGroup()
		if byKey[key] == nil {
			byKey[key] = &group{key: key}
			groups = append(groups, byKey[key])
		}
		byKey[key].members = append(byKey[key].members, v)
	}
	for i, g := range groups {
		first := g.members[0]
		var exports, names []string
		keep := false
		for _, v := range g.members {
			exports = append(exports, r.cacheTo(v))
			if !slices.Contains(names, string(v.Cache)) { // two variants may export alike
				names = append(names, string(v.Cache))
			}
			keep = keep || v.SameBuilderRebuild
		}
		on := "a new builder"
		switch first.Driver {
		case dockerDriver:
			on = "the engine's own builder (docker driver)"
		case rootlessDriver:
			on = "rootless BuildKit in a new container"
		}
		fmt.Fprintf(r.out, "cache-demo: cold build %d of %d, on %s: %s, exporting its %s (this takes a while)\n",
			i+1, len(groups), on, dockerfileTitle(first, r.changes), joinWords(names))
		if first.Driver == dockerDriver {
			if err := r.coldOnEngine(ctx, first, exports); err != nil {
				return err
			}
			continue
		}
		builder, err := r.newBuilder(ctx, first.Driver)
		if err != nil {
			return err
		}
		build := builder.build(ctx, buildRequest{dockerfile: r.dockerfiles[first.Dockerfile],
			tag: r.coldImage(first), cacheTo: exports, buildArgs: commitArgs(1)})
		// Only a buildx builder outlives its build (rootless BuildKit's container does not).
		if keep && build.Err == nil && builder.driver == containerDriver {
			undo.add(builder.remove)
			r.keep[first.coldGroup()] = builder
		} else {
			builder.remove()
		}
		if build.Err != nil {
			return fmt.Errorf("%w:\n%s%s", build.Err, RenderTable(build.Steps), build.Tail)
		}
		fmt.Fprintf(r.out, "cache-demo:   done in %.1f s\n", build.Seconds)
		for _, v := range g.members {
			r.results[v.Key] = &Result{Variant: v, Change: r.changes[v.Dockerfile], Cold: build,
				CacheStored: v.Cache == cacheInline || hasManifest(ctx, r.registry, cacheRepo, v.Key)}
		}
	}
	return nil
}

// coldOnEngine builds on the current engine's own builder (docker driver). A refusal
// to export is a result, not an error; the builder and its cache are the user's, so
// the demo only reads from them.
func (r *runner) coldOnEngine(ctx context.Context, v *Variant, exports []string) error {
	builder, err := engineBuilder(ctx)
	if err != nil {
		return err
	}
	store := imageStore(ctx)
	build := builder.build(ctx, buildRequest{dockerfile: r.dockerfiles[v.Dockerfile], cacheTo: exports,
		buildArgs: commitArgs(1)})
	if build.Err != nil && refusal(build) == "" {
		return fmt.Errorf("%w:\n%s%s", build.Err, RenderTable(build.Steps), build.Tail)
	}
	if build.Err != nil {
		fmt.Fprintf(r.out, "cache-demo:   refused: %s\n", refusal(build))
	} else {
		fmt.Fprintf(r.out, "cache-demo:   done in %.1f s\n", build.Seconds)
	}
	r.results[v.Key] = &Result{Variant: v, Change: r.changes[v.Dockerfile], Cold: build, Store: store,
		CacheStored: build.Err == nil && hasManifest(ctx, r.registry, cacheRepo, v.Key)}
	return nil
}

// rebuilds rebuilds every variant whose cold build exported a cache, each on a
// brand-new builder, and where asked also on the builder of its cold build.
func (r *runner) rebuilds(ctx context.Context, variants []*Variant) error {
	var todo []*Variant
	for _, v := range variants {
		if v.rebuildDriver() != dockerDriver { // the engine's own builder is never fresh
			todo = append(todo, v)
		}
	}
	for i, v := range todo {
		reading := "its " + string(v.Cache)
		if v.rebuildDriver() != v.Driver {
			reading = fmt.Sprintf("the %s that its cold build on %s wrote", v.Cache, writerWords(v.Driver))
		}
		fmt.Fprintf(r.out, "cache-demo: rebuild %d of %d on %s: %s, reading %s\n",
			i+1, len(todo), fresh(v.rebuildDriver()), dockerfileTitle(v, r.changes), reading)
		builder, err := r.newBuilder(ctx, v.rebuildDriver())
		if err != nil {
			return err
		}
		build := builder.build(ctx, buildRequest{dockerfile: r.dockerfiles[v.Dockerfile],
			tag:       r.registry + "/" + imageRepo + ":" + v.Key + "-rebuild",
			cacheFrom: []string{r.cacheFrom(v)}, buildArgs: commitArgs(2)})
		builder.remove()
		if build.Err != nil {
			return fmt.Errorf("%w:\n%s%s", build.Err, RenderTable(build.Steps), build.Tail)
		}
		fmt.Fprintf(r.out, "cache-demo:   done in %.1f s\n", build.Seconds)
		r.results[v.Key].Rebuild = &build
		if kept := r.keep[v.coldGroup()]; v.SameBuilderRebuild && kept != nil {
			fmt.Fprintf(r.out, "cache-demo: the same rebuild on the builder of the cold build, which kept its local cache\n")
			same := kept.build(ctx, buildRequest{dockerfile: r.dockerfiles[v.Dockerfile], buildArgs: commitArgs(2)})
			if same.Err != nil {
				return fmt.Errorf("%w:\n%s%s", same.Err, RenderTable(same.Steps), same.Tail)
			}
			fmt.Fprintf(r.out, "cache-demo:   done in %.1f s\n", same.Seconds)
			r.results[v.Key].SameBuilder = &same
		}
	}
	return nil
}

func dockerfileTitle(v *Variant, changes map[string]string) string {
	if change := changes[v.Dockerfile]; change != "" {
		return "your Dockerfile with " + change
	}
	return "your Dockerfile"
}

// runScenarios runs the chosen scenarios and prints their reports.
func runScenarios(ctx context.Context, out io.Writer, buildkitdConfig string, chosen []*Scenario) error {
	var undo cleanups
	defer undo.run()
	r := &runner{
		out: out, buildkitdConfig: buildkitdConfig, suffix: randomSuffix(),
		dockerfiles: map[string]string{}, changes: map[string]string{},
		results: map[string]*Result{}, keep: map[string]*Builder{},
	}
	dir, err := os.MkdirTemp("", "cachedemo-")
	if err != nil {
		return err
	}
	// It holds only the Dockerfile variants; rootless BuildKit reads them as uid 1000.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	undo.add(func() { os.RemoveAll(dir) })
	variants := variantsOf(chosen)
	if err := r.prepareDockerfiles(variants, dir); err != nil {
		return err
	}
	names := make([]string, len(chosen))
	for i, s := range chosen {
		names[i] = s.Name
	}
	fmt.Fprintf(out, "cache-demo: scenarios %s; every variant's compile step gets `go build -v`, so the demo can count what it compiled\n", strings.Join(names, ", "))
	fmt.Fprintln(out, "cache-demo: starting a throwaway registry ...")
	if r.registry, err = startRegistry(ctx, &undo); err != nil {
		return err
	}
	fmt.Fprintf(out, "cache-demo: registry at %s; the caches go to %s\n", r.registry, r.registry+"/"+cacheRepo)
	fmt.Fprintf(out, "cache-demo: the builders and containers of this run are named cachedemo-%s-<n>\n", r.suffix)
	started := time.Now()
	if err := r.coldBuilds(ctx, variants, &undo); err != nil {
		return err
	}
	// A source edit, as the next commit would bring. Restored before returning.
	restore, err := editSource(editedFile)
	if err != nil {
		return err
	}
	undo.add(restore)
	fmt.Fprintf(out, "cache-demo: appended a comment to %s (it is put back at the end)\n", editedFile)
	if err := r.rebuilds(ctx, variants); err != nil {
		return err
	}
	undo.run() // put the source back and remove the registry and builders before the report
	for _, s := range chosen {
		o := Outcome{Good: r.results[s.Good.Key]}
		if s.Bad != nil {
			o.Bad = r.results[s.Bad.Key]
		}
		fmt.Fprint(out, report(s, o, editedFile))
	}
	fmt.Fprintf(out, "\ncache-demo: %d builds in %.0f s\n", countBuilds(r.results), time.Since(started).Seconds())
	return nil
}

func countBuilds(results map[string]*Result) int {
	colds := map[string]bool{}
	n := 0
	for _, res := range results {
		colds[res.Variant.coldGroup()] = true
		if res.Rebuild != nil {
			n++
		}
		if res.SameBuilder != nil {
			n++
		}
	}
	return n + len(colds)
}
