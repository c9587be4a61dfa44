// Command loadgen drives HTTP load at one URL on loopback and reports what it saw.
//
// It is part of the benchmark (bench/service.py runs it): a fixed number of
// keep-alive clients send GET requests for a fixed time, then it prints one JSON
// object with the request count, failures, requests per second and latency
// percentiles. With -ready it also plays a load balancer: a checker polls that URL
// and, once it stops answering 200, the clients stop sending (as a Kubernetes
// Service stops routing to a pod that is not ready). It only talks to the URL it
// is given, which bench/service.py points at 127.0.0.1.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

type report struct {
	Requests     int64   `json:"requests"`
	Failed       int64   `json:"failed"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"requests_per_second"`
	P50Ms        float64 `json:"p50_ms"`
	P99Ms        float64 `json:"p99_ms"`
	StoppedByLB  bool    `json:"stopped_by_readiness"`
	FirstFailure string  `json:"first_failure,omitempty"`
}

func main() {
	target := flag.String("url", "", "URL to GET (loopback only)")
	clients := flag.Int("clients", 32, "concurrent keep-alive clients")
	duration := flag.Duration("duration", 10*time.Second, "how long to send requests at most")
	ready := flag.String("ready", "", "readiness URL; clients stop once it fails (optional)")
	checkEvery := flag.Duration("check-every", 100*time.Millisecond, "readiness poll interval")
	flag.Parse()
	if err := checkLoopback(*target, *ready); err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(2)
	}
	out, err := json.Marshal(run(*target, *clients, *duration, *ready, *checkEvery))
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	fmt.Println(string(out))
}

// checkLoopback refuses any URL whose host is not 127.0.0.1, localhost or ::1.
func checkLoopback(urls ...string) error {
	for _, raw := range urls {
		if raw == "" {
			continue
		}
		u, err := url.Parse(raw)
		if err != nil {
			return err
		}
		switch u.Hostname() {
		case "127.0.0.1", "localhost", "::1":
		default:
			return fmt.Errorf("%s: only loopback addresses are allowed", raw)
		}
	}
	if urls[0] == "" {
		return errors.New("-url is required")
	}
	return nil
}

func run(target string, clients int, duration time.Duration, ready string, checkEvery time.Duration) report {
	var routed atomic.Bool
	routed.Store(true)
	deadline := time.Now().Add(duration)
	if ready != "" {
		go func() {
			client := &http.Client{Timeout: time.Second}
			for routed.Load() && time.Now().Before(deadline) {
				if get(client, ready) != nil {
					routed.Store(false)
					return
				}
				time.Sleep(checkEvery)
			}
		}()
	}

	var requests, failed atomic.Int64
	var firstFailure atomic.Value
	latencies := make([][]time.Duration, clients)
	var wg sync.WaitGroup
	started := time.Now()
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			for routed.Load() && time.Now().Before(deadline) {
				begin := time.Now()
				err := get(client, target)
				requests.Add(1)
				if err != nil {
					failed.Add(1)
					firstFailure.CompareAndSwap(nil, err.Error())
					continue
				}
				latencies[i] = append(latencies[i], time.Since(begin))
			}
		}()
	}
	wg.Wait()
	seconds := time.Since(started).Seconds()

	all := slices.Concat(latencies...)
	slices.Sort(all)
	r := report{
		Requests:    requests.Load(),
		Failed:      failed.Load(),
		Seconds:     seconds,
		PerSecond:   float64(requests.Load()) / seconds,
		P50Ms:       percentile(all, 0.50),
		P99Ms:       percentile(all, 0.99),
		StoppedByLB: !routed.Load(),
	}
	if f, ok := firstFailure.Load().(string); ok {
		r.FirstFailure = f
	}
	return r
}

// get sends one GET and reads the whole body, so the connection is reused.
func get(client *http.Client, target string) error {
	resp, err := client.Get(target)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(float64(len(sorted)-1) * p)
	return float64(sorted[i].Microseconds()) / 1000
}
