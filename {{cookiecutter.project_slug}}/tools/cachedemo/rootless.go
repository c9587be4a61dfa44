package main

// Rootless BuildKit, started the way the builder=rootless CI job starts it: the pinned
// BuildKit release's "-rootless" image, `buildctl-daemonless.sh build` as uid 1000, in
// a container that is not privileged and gets only what that job needs from a runner.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	rootlessUser = "1000:1000"
	// Where rootless buildkitd reads its configuration ($XDG_CONFIG_HOME/buildkit).
	rootlessConfig = "/home/user/.config/buildkit/buildkitd.toml"
	// No PID namespace of its own for RUN steps, as in the CI job (BUILDKITD_FLAGS).
	rootlessFlags = "--oci-worker-no-process-sandbox"
)

// rootlessSettings is what the job container gets from the runner: seccomp unconfined
// (Docker's default profile refuses new namespaces and mount without CAP_SYS_ADMIN),
// and of the capabilities only SETUID and SETGID (for newuidmap and newgidmap).
var rootlessSettings = []string{
	"--security-opt", "seccomp=unconfined",
	"--cap-drop", "ALL", "--cap-add", "SETUID", "--cap-add", "SETGID",
}

// newRootlessBuilder prepares rootless BuildKit for one build; the container starts
// with the build.
func newRootlessBuilder(ctx context.Context, buildkitdConfig, name string) (*Builder, error) {
	image := pinnedBuildKit(".gitlab-ci.yml")
	if image == "" {
		return nil, errors.New("rootless BuildKit runs the \"-rootless\" variant of the BuildKit image " +
			"that BUILDKIT_IMAGE pins in .gitlab-ci.yml, and .gitlab-ci.yml names none")
	}
	if why := unreadableByRootlessUser("."); why != "" {
		return nil, errors.New(why)
	}
	if buildkitdConfig != "" {
		abs, err := filepath.Abs(buildkitdConfig)
		if err != nil {
			return nil, err
		}
		buildkitdConfig = abs
	}
	return &Builder{name: name, driver: rootlessDriver, own: true, image: image + "-rootless",
		buildkitdConfig: buildkitdConfig, appArmor: engineRunsAppArmor(ctx)}, nil
}

// unreadableByRootlessUser says why uid 1000 in the container could not read the
// project directory, which is mounted into it, or returns "".
func unreadableByRootlessUser(dir string) string {
	info, err := os.Stat(dir)
	if err != nil {
		return err.Error()
	}
	if os.Getuid() == 1000 || info.Mode().Perm()&0o005 == 0o005 {
		return ""
	}
	abs, _ := filepath.Abs(dir)
	return fmt.Sprintf("rootless BuildKit runs as uid 1000 and could not read %s (mode %04o); "+
		"make it readable to others (chmod o+rx) to run this scenario", abs, info.Mode().Perm())
}

// engineRunsAppArmor says whether the engine confines containers with AppArmor, whose
// default profile forbids the mounts rootless BuildKit makes.
func engineRunsAppArmor(ctx context.Context) bool {
	options, err := docker(ctx, "info", "--format", goTemplate("json .SecurityOptions"))
	return err == nil && strings.Contains(options, "name=apparmor")
}

// rootlessArgs is the `docker run ... buildctl-daemonless.sh build ...` command line for
// the request, and the container settings it uses.
func (b *Builder) rootlessArgs(req buildRequest, project string) (args, settings []string) {
	dockerfileDir, _ := filepath.Abs(filepath.Dir(req.dockerfile))
	settings = append([]string{"--user", rootlessUser}, rootlessSettings...)
	if b.appArmor {
		settings = append(settings, "--security-opt", "apparmor=unconfined")
	}
	// The network of this host: the demo's registry listens on its loopback.
	args = append([]string{"run", "--rm", "--name", b.name}, settings...)
	args = append(args, "--network", "host",
		"--mount", bindMount(project, "/ctx"),
		"--mount", bindMount(dockerfileDir, "/dockerfile"),
		"--env", "BUILDKITD_FLAGS="+rootlessFlags)
	if b.buildkitdConfig != "" {
		args = append(args, "--mount", bindMount(b.buildkitdConfig, rootlessConfig))
	}
	args = append(args, "--entrypoint", "buildctl-daemonless.sh", b.image,
		"build", "--frontend", "dockerfile.v0", "--progress", "rawjson",
		"--local", "context=/ctx", "--local", "dockerfile=/dockerfile",
		"--opt", "filename="+filepath.Base(req.dockerfile))
	for _, a := range req.buildArgs {
		args = append(args, "--opt", "build-arg:"+a)
	}
	if req.tag != "" {
		args = append(args, "--output", csvField("type=image", "name="+req.tag, "push=true"))
	}
	for _, c := range req.cacheTo {
		args = append(args, "--export-cache", c)
	}
	for _, c := range req.cacheFrom {
		args = append(args, "--import-cache", c)
	}
	return args, settings
}

// bindMount is a read-only --mount value; a path with a comma or a quote stays one field.
func bindMount(source, target string) string {
	return csvField("type=bind", "source="+source, "target="+target, "readonly")
}

// csvField joins fields the way docker and buildctl split such values (CSV), quoting
// a field that holds a comma or a double quote.
func csvField(fields ...string) string {
	out := make([]string, len(fields))
	for i, f := range fields {
		if strings.ContainsAny(f, ",\"\n") {
			f = `"` + strings.ReplaceAll(f, `"`, `""`) + `"`
		}
		out[i] = f
	}
	return strings.Join(out, ",")
}
