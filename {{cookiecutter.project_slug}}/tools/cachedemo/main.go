// Command cachedemo shows BuildKit's registry cache at work on this project, and what
// the caching pitfalls the docs describe would do to it.
//
// A scenario builds the project cold on a fresh docker-container builder (exporting the
// cache as CI does), edits a source file, then rebuilds on a brand-new builder that can
// only use the registry cache, and prints which steps ran and which came from the
// cache. A pitfall's scenario does the same with a bad variant of the Dockerfile or of
// the cache settings, made from the project's own Dockerfile by program, and prints the
// two rebuilds side by side with one sentence on what the results show. Everything it
// creates (registry container, builders, the edit) is removed again, also on failure
// or Ctrl-C.
//
// Run it with `make cache-demo` (the default scenario), `make cache-demo SCENARIO=list`
// or `make cache-demo SCENARIO=<name>[,<name>...]`, or `go run ./tools/cachedemo
// [scenario]`. It needs Docker with the buildx plugin. The builders run the BuildKit
// release that .gitlab-ci.yml pins (BUILDKIT_IMAGE), as CI does; the rootless scenario
// also runs that release's "-rootless" image as the builder=rootless job does. Set
// CACHE_DEMO_BUILDKITD_CONFIG to a buildkitd.toml file to pass it to the builders (for
// example one that points docker.io at a registry mirror).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdout)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cache-demo: %v\n", err)
		os.Exit(1)
	}
}

// run picks the scenarios from the first argument or, without one, from
// CACHE_DEMO_SCENARIO (what `make cache-demo SCENARIO=...` sets).
func run(ctx context.Context, args []string, getenv func(string) string, out io.Writer) error {
	if len(args) > 1 {
		return errors.New("give at most one argument: a scenario, several joined by commas, `all` or `list`")
	}
	spec := getenv("CACHE_DEMO_SCENARIO")
	if len(args) == 1 {
		spec = args[0]
	}
	if spec == "list" {
		fmt.Fprint(out, listScenarios())
		return nil
	}
	chosen, err := selectScenarios(spec)
	if err != nil {
		return err
	}
	if _, err := os.Stat("Dockerfile"); err != nil {
		return errors.New("run me from the project directory (where the Dockerfile is)")
	}
	return runScenarios(ctx, out, getenv("CACHE_DEMO_BUILDKITD_CONFIG"), chosen)
}

// cleanups runs what was registered, last first, whatever happened before.
type cleanups []func()

func (c *cleanups) add(f func()) { *c = append(*c, f) }

func (c *cleanups) run() {
	for i := len(*c) - 1; i >= 0; i-- {
		(*c)[i]()
	}
	*c = nil
}

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// editSource appends a comment to a Go file and returns a function that restores it.
func editSource(path string) (func(), error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	original, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	edited := append(append([]byte{}, original...), []byte(fmt.Sprintf("\n// cache-demo edit at %s\n", time.Now().Format(time.RFC3339Nano)))...)
	if err := os.WriteFile(path, edited, info.Mode().Perm()); err != nil {
		return nil, err
	}
	return func() {
		if err := os.WriteFile(path, original, info.Mode().Perm()); err != nil {
			fmt.Fprintf(os.Stderr, "cache-demo: could not restore %s: %v\n", path, err)
		}
	}, nil
}
