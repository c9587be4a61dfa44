package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
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

// testTimes are short versions of the production timeouts.
var testTimes = timeouts{readHeader: 200 * time.Millisecond, drain: 0, shutdown: 2 * time.Second}

// served is a server started by startServe, on a listener of the test's own (no
// probing for a free port, so no race for it).
type served struct {
	base string // http://127.0.0.1:<port>
	port string
	logs *syncBuffer
	done chan error // serve's result
}

func startServe(t *testing.T, ctx context.Context, times timeouts) *served {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	s := &served{
		base: "http://" + ln.Addr().String(),
		port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port),
		logs: &syncBuffer{},
		done: make(chan error, 1),
	}
	go func() { s.done <- serve(ctx, ln, times, s.logs) }()
	waitReady(t, s.base+"/readyz", s.done)
	return s
}

// wait returns serve's result, failing the test if it takes longer than within.
func (s *served) wait(t *testing.T, within time.Duration) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(within):
		t.Fatalf("serve did not return within %v; logs:\n%s", within, s.logs.String())
		return nil
	}
}

func TestServeServesAndShutsDown(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, testTimes)

	t.Run("version", func(t *testing.T) {
		resp, err := http.Get(s.base + "/version")
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
		getenv := fakeEnv(map[string]string{"PORT": s.port})
		if err := run(context.Background(), []string{"app", "-healthcheck"}, getenv, io.Discard); err != nil {
			t.Errorf("run -healthcheck: got error %v, want nil", err)
		}
	})

	cancel()
	if err := s.wait(t, testTimes.shutdown+5*time.Second); err != nil {
		t.Fatalf("serve: got error %v, want nil", err)
	}

	lines := logLines(t, s.logs.String())
	started := findLog(lines, "server started")
	if started == nil {
		t.Fatalf("logs: got no %q line, want one; logs:\n%s", "server started", s.logs.String())
	}
	for key, want := range map[string]string{"version": version, "commit": commit, "service": serviceName} {
		if got := started[key]; got != want {
			t.Errorf("server started %s: got %v, want %q", key, got, want)
		}
	}
	if addr, _ := started["addr"].(string); !strings.HasSuffix(addr, ":"+s.port) {
		t.Errorf("server started addr: got %q, want suffix %q", addr, ":"+s.port)
	}
	if findLog(lines, "server stopped") == nil {
		t.Errorf("logs: got no %q line, want one; logs:\n%s", "server stopped", s.logs.String())
	}
}

func TestSlowHeadersAreCut(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, testTimes)
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.base, "http://"))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer conn.Close()
	// Start a request and never finish its headers.
	if _, err := conn.Write([]byte("GET /version HTTP/1.1\r\nHost: x\r\n")); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(testTimes.readHeader + 3*time.Second))
	began := time.Now()
	_, err = io.ReadAll(conn) // returns once the server closes the connection
	if err != nil {
		t.Fatalf("the server did not close a connection whose headers never came: %v", err)
	}
	if elapsed := time.Since(began); elapsed > testTimes.readHeader+2*time.Second {
		t.Errorf("connection closed after %v, want about the %v ReadHeaderTimeout", elapsed, testTimes.readHeader)
	}
}

func TestRunHealthcheckFailsWithoutServer(t *testing.T) {
	// A port that nothing listens on: one this test held and released. Nothing else
	// binds it between the two lines, and if something did, the probe would still fail.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close()
	getenv := fakeEnv(map[string]string{"PORT": port})
	err = run(context.Background(), []string{"app", "-healthcheck"}, getenv, io.Discard)
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
	getenv := fakeEnv(nil)
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
