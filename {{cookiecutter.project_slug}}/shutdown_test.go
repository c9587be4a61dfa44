package main

// The stop: SIGTERM starts the drain delay (/readyz fails, requests are still served),
// a second signal ends it at once, the shutdown deadline cuts what still runs, and
// SHUTDOWN_DRAIN_DELAY sets the delay. The helpers they share with main_test.go
// (startServe, logLines, findLog, fakeEnv, testTimes) live there.

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

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
