package main

// Talking to Docker: the throwaway registry, the builders and the builds.

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

const registryImage = "registry:2"

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

// hasManifest asks the registry whether repository:tag exists.
func hasManifest(ctx context.Context, registry, repository, tag string) bool {
	url := "http://" + registry + "/v2/" + repository + "/manifests/" + tag
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.index.v1+json",
		"application/vnd.oci.image.manifest.v1+json",
		"application/vnd.docker.distribution.manifest.list.v2+json",
		"application/vnd.docker.distribution.manifest.v2+json",
	}, ", "))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
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

// Builder is where a build runs: a buildx builder the demo created (docker-container
// driver), the engine's own (docker driver), which the demo uses but never removes, or
// rootless BuildKit, a new container of the "-rootless" image for each build.
type Builder struct {
	name   string
	driver Driver
	own    bool
	// rootless only
	image           string
	buildkitdConfig string
	appArmor        bool // the engine confines containers with AppArmor
}

// newContainerBuilder creates and starts a docker-container builder, as a CI job does.
func newContainerBuilder(ctx context.Context, buildkitdConfig, name string) (*Builder, error) {
	create := []string{"buildx", "create", "--name", name, "--driver", "docker-container", "--driver-opt", "network=host"}
	if image := pinnedBuildKit(".gitlab-ci.yml"); image != "" {
		create = append(create, "--driver-opt", "image="+image)
	}
	if buildkitdConfig != "" {
		create = append(create, "--buildkitd-config", buildkitdConfig)
	}
	if _, err := docker(ctx, append(create, "--bootstrap")...); err != nil {
		c, cancel := cleanupContext()
		defer cancel()
		_, _ = docker(c, "buildx", "rm", "--force", name)
		return nil, err
	}
	return &Builder{name: name, driver: containerDriver, own: true}, nil
}

// engineBuilder is the builder that comes with the current docker context: BuildKit
// inside dockerd, the docker driver.
func engineBuilder(ctx context.Context) (*Builder, error) {
	name, err := docker(ctx, "context", "inspect", "--format", goTemplate(".Name"))
	if err != nil {
		return nil, err
	}
	info, err := docker(ctx, "buildx", "inspect", name)
	if err != nil {
		return nil, err
	}
	if m := regexp.MustCompile(`(?m)^Driver:\s*(\S+)`).FindStringSubmatch(info); m == nil || m[1] != "docker" {
		return nil, fmt.Errorf("the builder %q of the current docker context does not use the docker driver:\n%s", name, info)
	}
	return &Builder{name: name, driver: dockerDriver}, nil
}

// imageStore says which image store the engine keeps its images in.
func imageStore(ctx context.Context) string {
	status, err := docker(ctx, "info", "--format", goTemplate("json .DriverStatus"))
	if err != nil {
		return "unknown"
	}
	if strings.Contains(status, "io.containerd.snapshotter") {
		return "containerd"
	}
	return "classic"
}

// goTemplate wraps an expression in the double braces of a docker --format template
// (written this way because this file is itself a template of the project generator).
func goTemplate(expr string) string {
	return "{" + "{" + expr + "}" + "}"
}

// remove deletes a builder the demo created, with its container and local cache.
func (b *Builder) remove() {
	if !b.own {
		return
	}
	c, cancel := cleanupContext()
	defer cancel()
	if b.driver == rootlessDriver {
		// Its container removes itself when the build ends; this catches a Ctrl-C,
		// which stops the docker client but not the container.
		_, _ = docker(c, "rm", "--force", b.name)
		return
	}
	_, _ = docker(c, "buildx", "rm", "--force", b.name)
}

// buildRequest is one build, whatever runs it; each kind of builder spells it on its
// own command line.
type buildRequest struct {
	dockerfile string   // the Dockerfile variant (an absolute path for rootless BuildKit)
	tag        string   // the image to push; "" for none
	cacheTo    []string // cache exports, in the --cache-to syntax (buildctl's is the same)
	cacheFrom  []string // cache imports, in the --cache-from syntax
	buildArgs  []string // NAME=value
}

// Build is one build: its steps, its wall time, and how it ended.
type Build struct {
	Steps   []Step
	Seconds float64
	Err     error  // set when the build failed
	Tail    string // the last plain lines of its output, for failures
	// RanAs is how rootless BuildKit's container was started; "" for the other builders.
	RanAs string
}

// build runs the request on the builder, in the project directory, and reads the steps
// from the progress stream (--progress=rawjson, which buildx and buildctl print alike).
func (b *Builder) build(ctx context.Context, req buildRequest) Build {
	var args []string
	ranAs := ""
	if b.driver == rootlessDriver {
		project, err := os.Getwd()
		if err != nil {
			return Build{Err: err}
		}
		var settings []string
		args, settings = b.rootlessArgs(req, project)
		ranAs = b.image + ", " + strings.Join(settings, " ")
	} else {
		args = buildxArgs(b.name, req)
	}
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stream bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stream, &stream
	started := time.Now()
	err := cmd.Run()
	result := Build{Steps: ParseSteps(stream.Bytes()), Seconds: time.Since(started).Seconds(),
		Tail: tail(stream.String(), 15), RanAs: ranAs}
	switch {
	case err == nil:
	case b.driver == rootlessDriver:
		result.Err = fmt.Errorf("rootless BuildKit (%s) failed (%w); it needs user namespaces on this "+
			"host: user.max_user_namespaces above 0 and, on Ubuntu 24.04 and later, "+
			"kernel.apparmor_restrict_unprivileged_userns=0", b.image, err)
	default:
		result.Err = fmt.Errorf("docker buildx build on %s failed (%w)", b.name, err)
	}
	return result
}

// buildxArgs is `docker buildx build` for the request.
func buildxArgs(builder string, req buildRequest) []string {
	args := []string{"buildx", "build", "--builder", builder, "--progress=rawjson", "--file", req.dockerfile}
	if req.tag != "" {
		args = append(args, "--tag", req.tag, "--push")
	}
	for _, c := range req.cacheTo {
		args = append(args, "--cache-to", c)
	}
	for _, c := range req.cacheFrom {
		args = append(args, "--cache-from", c)
	}
	for _, a := range req.buildArgs {
		args = append(args, "--build-arg", a)
	}
	return append(args, ".")
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
