package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"sync/atomic"
	"time"
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Service string
	Version string
	Commit  string
}

// Health tracks whether the service should receive new traffic. The zero
// value is ready; MarkShuttingDown makes /readyz answer 503 from then on.
type Health struct {
	shuttingDown atomic.Bool
}

// Ready reports whether the service is ready to receive traffic.
func (h *Health) Ready() bool { return !h.shuttingDown.Load() }

// MarkShuttingDown records that shutdown has started.
func (h *Health) MarkShuttingDown() { h.shuttingDown.Store(true) }

// NewServer returns the service's complete HTTP handler.
func NewServer(logger *slog.Logger, info BuildInfo, health *Health) http.Handler {
	mux := http.NewServeMux()
	addRoutes(mux, logger, info, health)
	return logRequests(logger, mux)
}

// addRoutes lists the whole API in one place.
func addRoutes(mux *http.ServeMux, logger *slog.Logger, info BuildInfo, health *Health) {
	mux.Handle("GET /livez", handleLivez())
	mux.Handle("GET /readyz", handleReadyz(health))
	mux.Handle("GET /version", handleVersion(logger, info))
	mux.Handle("GET /{$}", handleRoot(logger, info))
}

// handleLivez answers 200 while the process is able to serve HTTP at all.
func handleLivez() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeText(w, http.StatusOK, "ok\n")
	})
}

// handleReadyz answers 200 until shutdown starts, then 503.
func handleReadyz(health *Health) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !health.Ready() {
			writeText(w, http.StatusServiceUnavailable, "shutting down\n")
			return
		}
		writeText(w, http.StatusOK, "ok\n")
	})
}

// handleVersion reports the build's version, commit and Go version.
func handleVersion(logger *slog.Logger, info BuildInfo) http.Handler {
	type response struct {
		Version   string `json:"version"`
		Commit    string `json:"commit"`
		GoVersion string `json:"go_version"`
	}
	body := response{
		Version:   info.Version,
		Commit:    info.Commit,
		GoVersion: runtime.Version(),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(logger, w, http.StatusOK, body)
	})
}

// handleRoot greets the caller and names the service.
func handleRoot(logger *slog.Logger, info BuildInfo) http.Handler {
	type response struct {
		Service string `json:"service"`
		Message string `json:"message"`
	}
	body := response{
		Service: info.Service,
		Message: "Hello from " + info.Service,
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		writeJSON(logger, w, http.StatusOK, body)
	})
}

func writeText(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = io.WriteString(w, body)
}

func writeJSON(logger *slog.Logger, w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		logger.Warn("writing response", "error", err)
	}
}

// logRequests logs one line per request once it has been served.
func logRequests(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		logger.LogAttrs(r.Context(), slog.LevelInfo, "request",
			slog.String("method", r.Method),
			slog.String("path", r.URL.Path),
			slog.Int("status", rec.status),
			slog.Duration("duration", time.Since(start)),
		)
	})
}

// statusRecorder remembers the status code written through it.
type statusRecorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
}

func (r *statusRecorder) WriteHeader(status int) {
	if !r.wroteHeader {
		r.status = status
		r.wroteHeader = true
	}
	r.ResponseWriter.WriteHeader(status)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
