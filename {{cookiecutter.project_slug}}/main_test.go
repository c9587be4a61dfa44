package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeEnv returns a getenv that looks keys up in env.
func fakeEnv(env map[string]string) func(string) string {
	return func(key string) string { return env[key] }
}

// freePort returns a TCP port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("finding a free port: %v", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	if err := ln.Close(); err != nil {
		t.Fatalf("closing probe listener: %v", err)
	}
	return strconv.Itoa(port)
}

// syncBuffer is a bytes.Buffer that is safe for concurrent use.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// logLines decodes JSON log output, one object per line.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var line map[string]any
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("log line %q is not JSON: %v", sc.Text(), err)
		}
		lines = append(lines, line)
	}
	return lines
}

// findLog returns the first log line whose msg is msg, or nil.
func findLog(lines []map[string]any, msg string) map[string]any {
	for _, line := range lines {
		if line["msg"] == msg {
			return line
		}
	}
	return nil
}

// waitReady polls url until it answers 200 or the deadline passes.
func waitReady(t *testing.T, url string, runErr <-chan error) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-runErr:
			t.Fatalf("run returned before the server was ready: %v", err)
		default:
		}
		resp, err := client.Get(url)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s did not answer 200 within the deadline", url)
}

func TestRunServesAndShutsDown(t *testing.T) {
	port := freePort(t)
	getenv := fakeEnv(map[string]string{"PORT": port})
	base := "http://127.0.0.1:" + port

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var logs syncBuffer
	runErr := make(chan error, 1)
	go func() { runErr <- run(ctx, []string{"app"}, getenv, &logs) }()

	waitReady(t, base+"/readyz", runErr)

	t.Run("version", func(t *testing.T) {
		resp, err := http.Get(base + "/version")
		if err != nil {
			t.Fatalf("GET /version: %v", err)
		}
		defer resp.Body.Close()
		if got, want := resp.StatusCode, http.StatusOK; got != want {
			t.Fatalf("status: got %d, want %d", got, want)
		}
		if got, want := resp.Header.Get("Content-Type"), "application/json"; got != want {
			t.Errorf("Content-Type: got %q, want %q", got, want)
		}
		var body struct {
			Version   string `json:"version"`
			Commit    string `json:"commit"`
			GoVersion string `json:"go_version"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("decoding body: %v", err)
		}
		if body.Version != version {
			t.Errorf("version: got %q, want %q", body.Version, version)
		}
		if body.Commit != commit {
			t.Errorf("commit: got %q, want %q", body.Commit, commit)
		}
		if !strings.HasPrefix(body.GoVersion, "go") {
			t.Errorf("go_version: got %q, want a value starting with %q", body.GoVersion, "go")
		}
	})

	t.Run("healthcheck", func(t *testing.T) {
		if err := run(context.Background(), []string{"app", "-healthcheck"}, getenv, io.Discard); err != nil {
			t.Errorf("run -healthcheck: got error %v, want nil", err)
		}
	})

	cancel()
	select {
	case err := <-runErr:
		if err != nil {
			t.Fatalf("run: got error %v, want nil", err)
		}
	case <-time.After(shutdownTimeout + 5*time.Second):
		t.Fatal("run did not return after the context was cancelled")
	}

	lines := logLines(t, logs.String())
	started := findLog(lines, "server started")
	if started == nil {
		t.Fatalf("logs: got no %q line, want one; logs:\n%s", "server started", logs.String())
	}
	for key, want := range map[string]string{"version": version, "commit": commit, "service": serviceName} {
		if got := started[key]; got != want {
			t.Errorf("server started %s: got %v, want %q", key, got, want)
		}
	}
	if addr, _ := started["addr"].(string); !strings.HasSuffix(addr, ":"+port) {
		t.Errorf("server started addr: got %q, want suffix %q", addr, ":"+port)
	}
	if findLog(lines, "server stopped") == nil {
		t.Errorf("logs: got no %q line, want one; logs:\n%s", "server stopped", logs.String())
	}
}

func TestRunHealthcheckFailsWithoutServer(t *testing.T) {
	getenv := fakeEnv(map[string]string{"PORT": freePort(t)})
	err := run(context.Background(), []string{"app", "-healthcheck"}, getenv, io.Discard)
	if err == nil {
		t.Fatal("run -healthcheck against a closed port: got nil error, want an error")
	}
}

func TestRunHealthcheckFailsOnBadStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
		}),
		ReadHeaderTimeout: time.Second,
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	getenv := fakeEnv(map[string]string{"PORT": port})
	err = run(context.Background(), []string{"app", "-healthcheck"}, getenv, io.Discard)
	if err == nil {
		t.Fatal("run -healthcheck against a 500 response: got nil error, want an error")
	}
}

func TestRunRejectsInvalidPort(t *testing.T) {
	for _, port := range []string{"0", "-1", "65536", "99999", "http", "80a", " 8080", "8080.0"} {
		t.Run(fmt.Sprintf("PORT=%q", port), func(t *testing.T) {
			getenv := fakeEnv(map[string]string{"PORT": port})
			argSets := [][]string{
				{"app"},
				{"app", "-healthcheck"},
			}
			for _, args := range argSets {
				err := run(context.Background(), args, getenv, io.Discard)
				if err == nil {
					t.Fatalf("run %q: got nil error, want an error", args)
				}
				if !strings.Contains(err.Error(), "PORT") {
					t.Errorf("run %q: got error %q, want it to mention PORT", args, err)
				}
			}
		})
	}
}

func TestRunRejectsBadArguments(t *testing.T) {
	getenv := fakeEnv(map[string]string{"PORT": freePort(t)})
	argSets := [][]string{
		{"app", "-no-such-flag"},
		{"app", "extra"},
	}
	for _, args := range argSets {
		if err := run(context.Background(), args, getenv, io.Discard); err == nil {
			t.Errorf("run %q: got nil error, want an error", args)
		}
	}
}

func TestPortFromEnvDefault(t *testing.T) {
	got, err := portFromEnv(fakeEnv(nil))
	if err != nil {
		t.Fatalf("portFromEnv with PORT unset: got error %v, want nil", err)
	}
	want, err := strconv.Atoi(defaultPort)
	if err != nil {
		t.Fatalf("defaultPort %q is not a number: %v", defaultPort, err)
	}
	if got != want {
		t.Errorf("portFromEnv with PORT unset: got %d, want %d", got, want)
	}
}

func TestShutdownCutsRequestsPastTheDeadline(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	started := make(chan struct{})
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release // longer than any deadline below
	})}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	clientErr := make(chan error, 1)
	go func() {
		resp, err := http.Get("http://" + ln.Addr().String() + "/slow")
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()
	<-started

	var logs syncBuffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	begin := time.Now()
	if err := shutdown(context.Background(), srv, 100*time.Millisecond, logger); err != nil {
		t.Fatalf("shutdown: got error %v, want nil (cut requests are not an error)", err)
	}
	if elapsed := time.Since(begin); elapsed > 5*time.Second {
		t.Errorf("shutdown took %v, want about the 100ms deadline", elapsed)
	}
	select {
	case err := <-clientErr:
		if err == nil {
			t.Error("the slow request got a response, want its connection cut")
		}
	case <-time.After(5 * time.Second):
		t.Error("the slow request is still running after shutdown, want its connection cut")
	}
	if err := <-serveErr; !errors.Is(err, http.ErrServerClosed) {
		t.Errorf("Serve returned %v, want http.ErrServerClosed", err)
	}
	if findLog(logLines(t, logs.String()), "shutdown deadline passed; closing the remaining connections") == nil {
		t.Errorf("no log line about the cut connections in:\n%s", logs.String())
	}
}
