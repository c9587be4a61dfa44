// Command {{ cookiecutter.project_slug }} is a small HTTP service.
//
// It listens on the port named by the PORT environment variable, logs JSON
// to stdout and shuts down gracefully on SIGINT or SIGTERM: it first reports
// not ready while still serving for SHUTDOWN_DRAIN_DELAY, so load balancers
// stop sending it traffic, then lets in-flight requests finish. Run it with
// -healthcheck to probe a running instance instead of starting one.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Set at build time with
// -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

const (
	serviceName = "{{ cookiecutter.project_slug }}"
	defaultPort = "{{ cookiecutter.http_port }}"

	readHeaderTimeout = 5 * time.Second
	readTimeout       = 15 * time.Second
	writeTimeout      = 15 * time.Second
	idleTimeout       = 60 * time.Second

	// defaultDrainDelay is how long the service keeps serving after a stop signal
	// while /readyz already answers 503: time for a Kubernetes Service or a load
	// balancer to take it out of rotation (their endpoint updates lag the signal).
	// SHUTDOWN_DRAIN_DELAY overrides it; `make run` sets 0.
	defaultDrainDelay = 5 * time.Second

	// shutdownTimeout bounds how long in-flight requests may take to finish
	// after the drain delay; requests still running then are cut.
	shutdownTimeout = 10 * time.Second

	// healthcheckTimeout bounds the whole -healthcheck probe; keep it below the
	// Dockerfile HEALTHCHECK --timeout so a hung probe fails cleanly.
	healthcheckTimeout = 2 * time.Second
)

func main() {
	ctx := context.Background()
	if err := run(ctx, os.Args, os.Getenv, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", serviceName, err)
		os.Exit(1)
	}
}

// run starts the service and blocks until ctx is cancelled or SIGINT/SIGTERM
// arrives, then shuts down gracefully. With -healthcheck it only probes the
// /livez endpoint of an instance already running on PORT.
func run(ctx context.Context, args []string, getenv func(string) string, stdout io.Writer) error {
	name := serviceName
	if len(args) > 0 {
		name, args = args[0], args[1:]
	}
	flags := flag.NewFlagSet(name, flag.ContinueOnError)
	healthcheck := flags.Bool("healthcheck", false, "probe /livez of the instance on PORT and exit 0 if it is healthy")
	if err := flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("unexpected arguments: %q", flags.Args())
	}

	port, err := portFromEnv(getenv)
	if err != nil {
		return err
	}

	if *healthcheck {
		return probe(ctx, port)
	}
	drain, err := drainDelayFromEnv(getenv)
	if err != nil {
		return err
	}
	// Listen before serving so that a bind failure is returned straight away.
	ln, err := net.Listen("tcp", net.JoinHostPort("", strconv.Itoa(port)))
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	times := timeouts{readHeader: readHeaderTimeout, drain: drain, shutdown: shutdownTimeout}
	return serve(ctx, ln, times, stdout)
}

// drainDelayFromEnv reads SHUTDOWN_DRAIN_DELAY (a Go duration such as "5s" or
// "0"), falling back to defaultDrainDelay when it is unset.
func drainDelayFromEnv(getenv func(string) string) (time.Duration, error) {
	raw := getenv("SHUTDOWN_DRAIN_DELAY")
	if raw == "" {
		return defaultDrainDelay, nil
	}
	delay, err := time.ParseDuration(raw)
	if err != nil || delay < 0 {
		return 0, fmt.Errorf("invalid SHUTDOWN_DRAIN_DELAY %q: want a duration such as 5s, or 0", raw)
	}
	return delay, nil
}

// portFromEnv reads PORT, falling back to defaultPort when it is unset.
func portFromEnv(getenv func(string) string) (int, error) {
	raw := getenv("PORT")
	if raw == "" {
		raw = defaultPort
	}
	port, err := strconv.Atoi(raw)
	if err != nil || port < 1 || port > 65535 {
		return 0, fmt.Errorf("invalid PORT %q: want an integer from 1 to 65535", raw)
	}
	return port, nil
}

// timeouts are the ones a test may want shorter than the defaults.
type timeouts struct {
	readHeader time.Duration // a client must send its request headers within this
	drain      time.Duration // after a stop signal: still serving, reporting not ready
	shutdown   time.Duration // then: no new connections, in-flight requests may finish
}

// serve runs the HTTP server on ln until ctx is cancelled or a stop signal
// arrives, then stops in three steps: mark not ready and keep serving for the
// drain delay, shut down gracefully within the shutdown timeout, and cut what
// is left. A second signal skips whatever remains and closes at once.
func serve(ctx context.Context, ln net.Listener, times timeouts, stdout io.Writer) error {
	signals := make(chan os.Signal, 2)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(signals)

	logger := slog.New(slog.NewJSONHandler(stdout, nil)).With("service", serviceName)
	health := &Health{}
	info := BuildInfo{Service: serviceName, Version: version, Commit: commit}

	srv := &http.Server{
		Handler:           NewServer(logger, info, health),
		ReadHeaderTimeout: times.readHeader,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
	}
	logger.Info("server started",
		"addr", ln.Addr().String(),
		"version", version,
		"commit", commit,
	)

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	case <-signals:
	}

	health.MarkShuttingDown()
	logger.Info("draining: not ready, still serving", "delay", times.drain.String())
	select {
	case <-time.After(times.drain):
	case <-signals:
		logger.Warn("second stop signal: closing now")
		_ = srv.Close()
		<-serveErr
		return nil
	}

	logger.Info("shutting down", "timeout", times.shutdown.String())
	stopped := make(chan error, 1)
	go func() { stopped <- shutdown(context.WithoutCancel(ctx), srv, times.shutdown, logger) }()
	select {
	case err := <-stopped:
		if err != nil {
			return err
		}
	case <-signals:
		logger.Warn("second stop signal: closing now")
		_ = srv.Close()
		<-stopped
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("server stopped")
	return nil
}

// shutdown stops srv gracefully: no new connections, in-flight requests may
// finish within timeout. Requests still running then are cut with Close, so
// the process always ends; that is logged, and not an error of the service.
func shutdown(ctx context.Context, srv *http.Server, timeout time.Duration, logger *slog.Logger) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := srv.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		logger.Warn("shutdown deadline passed; closing the remaining connections",
			"timeout", timeout.String())
		if closeErr := srv.Close(); closeErr != nil {
			return fmt.Errorf("close: %w", closeErr)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// probe asks the instance on port whether it is alive. It returns nil only
// when GET /livez answers 200 OK within healthcheckTimeout.
func probe(ctx context.Context, port int) error {
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()

	url := "http://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) + "/livez"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)

	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: GET %s: got status %d, want %d", url, resp.StatusCode, http.StatusOK)
	}
	return nil
}
