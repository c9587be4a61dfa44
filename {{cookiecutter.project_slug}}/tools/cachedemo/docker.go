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

// Builder is a buildx builder: one the demo created (docker-container driver), or the
// engine's own (docker driver), which the demo uses but never removes.
type Builder struct {
	name   string
	driver string
	own    bool
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
	return &Builder{name: name, driver: "docker-container", own: true}, nil
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
	return &Builder{name: name, driver: "docker"}, nil
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
	_, _ = docker(c, "buildx", "rm", "--force", b.name)
}

// Build is one `docker buildx build`: its steps, its wall time, and how it ended.
type Build struct {
	Steps   []Step
	Seconds float64
	Err     error  // set when the build failed
	Tail    string // the last plain lines of its output, for failures
}

// build runs `docker buildx build --progress=rawjson` on the builder with the given
// Dockerfile and arguments, in the project directory.
func (b *Builder) build(ctx context.Context, dockerfile string, args ...string) Build {
	full := append([]string{"buildx", "build", "--builder", b.name, "--progress=rawjson", "--file", dockerfile}, args...)
	cmd := exec.CommandContext(ctx, "docker", append(full, ".")...)
	var stream bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stream, &stream
	started := time.Now()
	err := cmd.Run()
	result := Build{Steps: ParseSteps(stream.Bytes()), Seconds: time.Since(started).Seconds(), Tail: tail(stream.String(), 15)}
	if err != nil {
		result.Err = fmt.Errorf("docker buildx build on %s failed (%w)", b.name, err)
	}
	return result
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
