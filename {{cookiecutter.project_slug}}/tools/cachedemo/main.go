// Command cachedemo shows BuildKit's registry cache at work on this project.
//
// It starts a throwaway registry, builds the image cold on a fresh docker-container
// builder (exporting the cache with mode=max, as CI does), edits a source file, then
// rebuilds on a brand-new builder that can only use the registry cache, and prints
// which steps ran and which came from the cache. Everything it creates (registry
// container, builders, the edit) is removed again, also on failure or Ctrl-C.
//
// Run it with `make cache-demo`. It needs Docker with the buildx plugin. The builders
// run the BuildKit release that .gitlab-ci.yml pins (BUILDKIT_IMAGE), as CI does. Set
// CACHE_DEMO_BUILDKITD_CONFIG to a buildkitd.toml file to pass it to the builders
// (for example one that points docker.io at a registry mirror).
package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"
)

const (
	registryImage = "registry:2"
	editedFile    = "main.go"
	cacheRepo     = "cachedemo/cache"
	imageRepo     = "cachedemo/app"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Stdout, os.Getenv("CACHE_DEMO_BUILDKITD_CONFIG"))
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "cache-demo: %v\n", err)
		os.Exit(1)
	}
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

func run(ctx context.Context, out io.Writer, buildkitdConfig string) error {
	if _, err := os.Stat("Dockerfile"); err != nil {
		return errors.New("run me from the project directory (where the Dockerfile is)")
	}
	var undo cleanups
	defer undo.run()
	suffix := randomSuffix()

	fmt.Fprintln(out, "cache-demo: starting a throwaway registry ...")
	registry, err := startRegistry(ctx, &undo)
	if err != nil {
		return err
	}
	cacheRef := registry + "/" + cacheRepo + ":demo"
	fmt.Fprintf(out, "cache-demo: registry at %s; the cache goes to %s\n", registry, cacheRef)

	// Build 1: a cold build on a new builder, exporting the cache the way CI does.
	cold, coldSeconds, err := buildOnFreshBuilder(ctx, out, buildkitdConfig, "cachedemo-"+suffix+"-1",
		"cold build: empty builder, no cache to import (this takes a while)",
		"--tag", registry+"/"+imageRepo+":first", "--push",
		"--cache-to", "type=registry,ref="+cacheRef+",mode=max,image-manifest=true,oci-mediatypes=true,ignore-error=true",
		"--build-arg", "GIT_COMMIT=cachedemo-first-commit", "--build-arg", "VERSION=demo-1")
	if err != nil {
		return err
	}

	// A source edit, as the next commit would bring. Restored before returning.
	restore, err := editSource(editedFile)
	if err != nil {
		return err
	}
	undo.add(restore)
	fmt.Fprintf(out, "cache-demo: appended a comment to %s (it is put back at the end)\n", editedFile)

	// Build 2: a brand-new builder (an empty local cache, like a new CI job) that
	// reads the registry cache.
	rebuild, rebuildSeconds, err := buildOnFreshBuilder(ctx, out, buildkitdConfig, "cachedemo-"+suffix+"-2",
		"rebuild after the edit: another new builder, reading the registry cache",
		"--tag", registry+"/"+imageRepo+":second", "--push",
		"--cache-from", "type=registry,ref="+cacheRef,
		"--build-arg", "GIT_COMMIT=cachedemo-second-commit", "--build-arg", "VERSION=demo-2")
	if err != nil {
		return err
	}
	undo.run() // put the source back and remove the registry before the report

	fmt.Fprintf(out, "\nCold build (%.1f s):\n%s", coldSeconds, RenderTable(cold))
	fmt.Fprintf(out, "\nRebuild after editing %s, on a new builder (%.1f s):\n%s", editedFile, rebuildSeconds, RenderTable(rebuild))
	fmt.Fprintf(out, "\n%s\n", Explain(rebuild, coldSeconds, rebuildSeconds))
	return nil
}

// Explain says in one plain sentence what the rebuild's step table shows.
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

// describe names a step in a few words for the closing sentence.
func describe(s Step) string {
	switch {
	case s.Text == "COPY . .":
		return "the copy of the source (`COPY . .`)"
	case strings.HasPrefix(s.Text, "RUN go build -ldflags"):
		return "the compile"
	case strings.HasPrefix(s.Text, "COPY --from=builder"):
		return "the copy of the binary into the runtime image"
	}
	text := s.Text
	if len(text) > 40 {
		text = text[:37] + "..."
	}
	return "`" + text + "`"
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

func randomSuffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// docker runs a docker command and returns its standard output.
func docker(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("docker %s: %w\n%s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(stdout.String()), nil
}

// cleanupContext outlives a Ctrl-C: cleanup must still run after ctx is cancelled.
func cleanupContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 2*time.Minute)
}

// startRegistry runs registry:2 on a free loopback port and returns "localhost:<port>"
// (BuildKit talks plain HTTP to localhost registries).
func startRegistry(ctx context.Context, undo *cleanups) (string, error) {
	id, err := docker(ctx, "run", "-d", "-p", "127.0.0.1::5000", registryImage)
	if err != nil {
		return "", err
	}
	undo.add(func() {
		c, cancel := cleanupContext()
		defer cancel()
		_, _ = docker(c, "rm", "--force", "--volumes", id)
	})
	binding, err := docker(ctx, "port", id, "5000/tcp")
	if err != nil {
		return "", err
	}
	first := strings.Fields(binding)[0]
	address := "localhost:" + first[strings.LastIndex(first, ":")+1:]
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+address+"/v2/", nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return address, nil
			}
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			return "", fmt.Errorf("the registry on %s did not answer", address)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// buildKitImageRE finds the BuildKit image the CI file pins, without the prefix
// variable CI may set (a mirror or GitLab's Dependency Proxy).
var buildKitImageRE = regexp.MustCompile(`(?m)^\s*BUILDKIT_IMAGE:\s*"?(?:\$\{IMAGE_PREFIX\})?([^"\s]+)"?\s*$`)

// pinnedBuildKit returns the BuildKit image named in the CI file, or "" when there is
// none (buildx then uses its default image).
func pinnedBuildKit(ciFile string) string {
	data, err := os.ReadFile(ciFile)
	if err != nil {
		return ""
	}
	if m := buildKitImageRE.FindSubmatch(data); m != nil {
		return string(m[1])
	}
	return ""
}

// buildOnFreshBuilder creates a docker-container builder, runs one build on it with
// --progress=rawjson, removes the builder and returns the build's steps.
func buildOnFreshBuilder(ctx context.Context, out io.Writer, buildkitdConfig, name, what string, args ...string) ([]Step, float64, error) {
	create := []string{"buildx", "create", "--name", name, "--driver", "docker-container", "--driver-opt", "network=host"}
	if image := pinnedBuildKit(".gitlab-ci.yml"); image != "" {
		create = append(create, "--driver-opt", "image="+image)
	}
	if buildkitdConfig != "" {
		create = append(create, "--buildkitd-config", buildkitdConfig)
	}
	fmt.Fprintf(out, "cache-demo: %s\n", what)
	if _, err := docker(ctx, append(create, "--bootstrap")...); err != nil {
		return nil, 0, err
	}
	defer func() {
		c, cancel := cleanupContext()
		defer cancel()
		_, _ = docker(c, "buildx", "rm", "--force", name)
	}()
	build := append([]string{"buildx", "build", "--builder", name, "--progress=rawjson"}, args...)
	cmd := exec.CommandContext(ctx, "docker", append(build, ".")...)
	var stream bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stream, &stream
	started := time.Now()
	err := cmd.Run()
	seconds := time.Since(started).Seconds()
	steps := ParseSteps(stream.Bytes())
	if err != nil {
		return nil, 0, fmt.Errorf("the build failed (%w):\n%s%s", err, RenderTable(steps), tail(stream.String(), 15))
	}
	fmt.Fprintf(out, "cache-demo:   done in %.1f s\n", seconds)
	return steps, seconds, nil
}

// tail returns the last n plain (non-JSON) lines of a build's output.
func tail(stream string, n int) string {
	var plain []string
	for _, line := range strings.Split(stream, "\n") {
		if line != "" && !strings.HasPrefix(line, " ") && !strings.ContainsAny(line[:1], "{}]") {
			plain = append(plain, line)
		}
	}
	if len(plain) > n {
		plain = plain[len(plain)-n:]
	}
	return strings.Join(plain, "\n")
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
