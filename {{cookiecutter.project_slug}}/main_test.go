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
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
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

// status is the status code of GET url, or 0 when the request failed.
func status(client *http.Client, url string) int {
	resp, err := client.Get(url)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// signalSelf sends sig to this test process. serve has registered for it by then
// (it answers /readyz), so the signal reaches serve instead of ending the test.
func signalSelf(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), sig); err != nil {
		t.Fatalf("kill: %v", err)
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

func TestSigtermDrainsBeforeStopping(t *testing.T) {
	times := testTimes
	times.drain = 700 * time.Millisecond
	s := startServe(t, context.Background(), times)
	client := &http.Client{Timeout: time.Second}

	signalled := time.Now()
	signalSelf(t, syscall.SIGTERM)
	// During the drain delay: /readyz says 503, and requests are still served.
	deadline := signalled.Add(times.drain / 2)
	for status(client, s.base+"/readyz") != http.StatusServiceUnavailable {
		if time.Now().After(deadline) {
			t.Fatalf("/readyz did not turn 503 within %v of SIGTERM", times.drain/2)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := status(client, s.base+"/version"); got != http.StatusOK {
		t.Errorf("GET /version while draining: got status %d, want 200", got)
	}
	if err := s.wait(t, times.drain+times.shutdown+2*time.Second); err != nil {
		t.Fatalf("serve: got error %v, want nil (a clean exit)", err)
	}
	if elapsed := time.Since(signalled); elapsed < times.drain {
		t.Errorf("serve returned %v after SIGTERM, before the %v drain delay ended", elapsed, times.drain)
	}
	if got := status(client, s.base+"/version"); got != 0 {
		t.Errorf("GET /version after the stop: got status %d, want a refused connection", got)
	}
}

func TestSecondSignalStopsAtOnce(t *testing.T) {
	times := testTimes
	times.drain = time.Minute
	s := startServe(t, context.Background(), times)
	client := &http.Client{Timeout: time.Second}
	signalSelf(t, syscall.SIGTERM)
	for status(client, s.base+"/readyz") != http.StatusServiceUnavailable {
		time.Sleep(10 * time.Millisecond)
	}
	signalSelf(t, syscall.SIGINT)
	if err := s.wait(t, 3*time.Second); err != nil {
		t.Fatalf("serve: got error %v, want nil", err)
	}
	if findLog(logLines(t, s.logs.String()), "second stop signal: closing now") == nil {
		t.Errorf("no log line about the second signal in:\n%s", s.logs.String())
	}
}

// TestNoFailedRequestsAcrossAStop plays a load balancer: clients send requests
// until a health checker sees /readyz fail, as a Kubernetes Service stops routing
// to a pod that is not ready. With a drain delay longer than the check interval,
// not one request fails across the SIGTERM.
func TestNoFailedRequestsAcrossAStop(t *testing.T) {
	times := testTimes
	times.drain = 600 * time.Millisecond
	const checkEvery = 100 * time.Millisecond
	s := startServe(t, context.Background(), times)

	var routed atomic.Bool // the balancer still sends traffic to this instance
	routed.Store(true)
	checkerDone := make(chan struct{})
	go func() {
		defer close(checkerDone)
		client := &http.Client{Timeout: time.Second}
		for routed.Load() {
			if status(client, s.base+"/readyz") != http.StatusOK {
				routed.Store(false)
				return
			}
			time.Sleep(checkEvery)
		}
	}()

	var ok, failed atomic.Int64
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 2 * time.Second}
			for routed.Load() {
				if status(client, s.base+"/version") == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	time.Sleep(300 * time.Millisecond) // steady load first
	signalled := time.Now()
	signalSelf(t, syscall.SIGTERM)
	<-checkerDone
	wg.Wait()
	if err := s.wait(t, times.drain+times.shutdown+2*time.Second); err != nil {
		t.Fatalf("serve: got error %v, want nil", err)
	}
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("across SIGTERM: %d requests failed, %d succeeded; want 0 failed and some succeeded",
			failed.Load(), ok.Load())
	}
	t.Logf("%d requests, none failed; stopped %v after SIGTERM", ok.Load(), time.Since(signalled))
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

func TestDrainDelayFromEnv(t *testing.T) {
	for raw, want := range map[string]time.Duration{"": defaultDrainDelay, "0": 0, "250ms": 250 * time.Millisecond, "15s": 15 * time.Second} {
		got, err := drainDelayFromEnv(fakeEnv(map[string]string{"SHUTDOWN_DRAIN_DELAY": raw}))
		if err != nil || got != want {
			t.Errorf("SHUTDOWN_DRAIN_DELAY=%q: got %v, %v; want %v, nil", raw, got, err, want)
		}
	}
	for _, raw := range []string{"5", "-1s", "soon"} {
		if _, err := drainDelayFromEnv(fakeEnv(map[string]string{"SHUTDOWN_DRAIN_DELAY": raw})); err == nil {
			t.Errorf("SHUTDOWN_DRAIN_DELAY=%q: got nil error, want one", raw)
		}
	}
}
