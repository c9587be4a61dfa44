package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
)

var testInfo = BuildInfo{Service: "test-service", Version: "1.2.3", Commit: "abc123"}

func newTestHandler(t *testing.T, health *Health) http.Handler {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	return NewServer(logger, testInfo, health)
}

// doRequest sends one request through h and returns the recorded response.
func doRequest(t *testing.T, h http.Handler, method, target string) (*http.Response, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	resp := rec.Result()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("reading body: %v", err)
	}
	return resp, string(body)
}

func TestRoutes(t *testing.T) {
	tests := []struct {
		name            string
		method          string
		target          string
		wantStatus      int
		wantContentType string
		wantBody        string // compared exactly unless empty
		wantAllow       string // compared exactly unless empty
	}{
		{
			name:            "livez",
			method:          http.MethodGet,
			target:          "/livez",
			wantStatus:      http.StatusOK,
			wantContentType: "text/plain; charset=utf-8",
			wantBody:        "ok\n",
		},
		{
			name:            "readyz",
			method:          http.MethodGet,
			target:          "/readyz",
			wantStatus:      http.StatusOK,
			wantContentType: "text/plain; charset=utf-8",
			wantBody:        "ok\n",
		},
		{
			name:            "version",
			method:          http.MethodGet,
			target:          "/version",
			wantStatus:      http.StatusOK,
			wantContentType: "application/json",
		},
		{
			name:            "root",
			method:          http.MethodGet,
			target:          "/",
			wantStatus:      http.StatusOK,
			wantContentType: "application/json",
		},
		{
			name:            "head livez",
			method:          http.MethodHead,
			target:          "/livez",
			wantStatus:      http.StatusOK,
			wantContentType: "text/plain; charset=utf-8",
		},
		{
			name:       "unknown path",
			method:     http.MethodGet,
			target:     "/does-not-exist",
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "unknown path below root",
			method:     http.MethodGet,
			target:     "/livez/extra",
			wantStatus: http.StatusNotFound,
		},
		{
			name:       "post root",
			method:     http.MethodPost,
			target:     "/",
			wantStatus: http.StatusMethodNotAllowed,
			wantAllow:  "GET, HEAD",
		},
		{
			name:       "delete version",
			method:     http.MethodDelete,
			target:     "/version",
			wantStatus: http.StatusMethodNotAllowed,
			wantAllow:  "GET, HEAD",
		},
		{
			name:       "put livez",
			method:     http.MethodPut,
			target:     "/livez",
			wantStatus: http.StatusMethodNotAllowed,
			wantAllow:  "GET, HEAD",
		},
	}

	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHandler(t, &Health{})
			resp, body := doRequest(t, h, tt.method, tt.target)

			if got := resp.StatusCode; got != tt.wantStatus {
				t.Errorf("status: got %d, want %d", got, tt.wantStatus)
			}
			if tt.wantContentType != "" {
				if got := resp.Header.Get("Content-Type"); got != tt.wantContentType {
					t.Errorf("Content-Type: got %q, want %q", got, tt.wantContentType)
				}
			}
			if tt.wantBody != "" && body != tt.wantBody {
				t.Errorf("body: got %q, want %q", body, tt.wantBody)
			}
			if tt.wantAllow != "" {
				if got := resp.Header.Get("Allow"); got != tt.wantAllow {
					t.Errorf("Allow: got %q, want %q", got, tt.wantAllow)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	h := newTestHandler(t, &Health{})
	resp, body := doRequest(t, h, http.MethodGet, "/version")

	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status: got %d, want %d", got, want)
	}
	var got map[string]string
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	want := map[string]string{
		"version":    testInfo.Version,
		"commit":     testInfo.Commit,
		"go_version": runtime.Version(),
	}
	if len(got) != len(want) {
		t.Errorf("fields: got %v, want %v", got, want)
	}
	for key, wantValue := range want {
		if gotValue, ok := got[key]; !ok || gotValue != wantValue {
			t.Errorf("%s: got %q (present: %t), want %q", key, gotValue, ok, wantValue)
		}
	}
}

func TestRoot(t *testing.T) {
	h := newTestHandler(t, &Health{})
	resp, body := doRequest(t, h, http.MethodGet, "/")

	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("status: got %d, want %d", got, want)
	}
	var got struct {
		Service string `json:"service"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("decoding %q: %v", body, err)
	}
	if got.Service != testInfo.Service {
		t.Errorf("service: got %q, want %q", got.Service, testInfo.Service)
	}
	if want := "Hello from " + testInfo.Service; got.Message != want {
		t.Errorf("message: got %q, want %q", got.Message, want)
	}
}

func TestReadyzAfterShutdownStarts(t *testing.T) {
	health := &Health{}
	h := newTestHandler(t, health)

	resp, body := doRequest(t, h, http.MethodGet, "/readyz")
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Fatalf("before shutdown: status: got %d, want %d (body %q)", got, want, body)
	}

	health.MarkShuttingDown()

	resp, body = doRequest(t, h, http.MethodGet, "/readyz")
	if got, want := resp.StatusCode, http.StatusServiceUnavailable; got != want {
		t.Errorf("after shutdown: status: got %d, want %d", got, want)
	}
	if got, want := body, "shutting down\n"; got != want {
		t.Errorf("after shutdown: body: got %q, want %q", got, want)
	}

	// Liveness is unaffected: the process is still healthy while draining.
	resp, _ = doRequest(t, h, http.MethodGet, "/livez")
	if got, want := resp.StatusCode, http.StatusOK; got != want {
		t.Errorf("livez after shutdown: status: got %d, want %d", got, want)
	}
}

func TestHealthZeroValueIsReady(t *testing.T) {
	var h Health
	if got, want := h.Ready(), true; got != want {
		t.Errorf("Ready(): got %t, want %t", got, want)
	}
	h.MarkShuttingDown()
	if got, want := h.Ready(), false; got != want {
		t.Errorf("Ready() after MarkShuttingDown: got %t, want %t", got, want)
	}
}
