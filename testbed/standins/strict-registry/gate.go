package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"regexp"
	"strings"
)

// GitLab's registry reads at most 4 MiB of a manifest; a bigger body is refused here too.
const maxManifestBytes = 4 << 20

// The manifest media types a HEAD asks for, so that any kind of subject is found.
const manifestTypes = "application/vnd.oci.image.manifest.v1+json, " +
	"application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, " +
	"application/vnd.docker.distribution.manifest.list.v2+json"

// A digest as the OCI image spec writes it: algorithm ":" encoded.
var digestPattern = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$`)

type gate struct {
	upstream *url.URL
	client   *http.Client
	proxy    *httputil.ReverseProxy
	log      *log.Logger
}

func newGate(upstream *url.URL, transport http.RoundTripper, logger *log.Logger) *gate {
	proxy := &httputil.ReverseProxy{
		// Only the destination changes: the Host header stays the client's, so the
		// registry's Location headers name the address the client used, and
		// X-Forwarded-Proto tells it whether the client spoke HTTPS.
		Rewrite: func(request *httputil.ProxyRequest) {
			request.Out.URL.Scheme = upstream.Scheme
			request.Out.URL.Host = upstream.Host
			request.Out.Host = request.In.Host
			request.SetXForwarded()
		},
		Transport:     transport,
		FlushInterval: -1,
	}
	client := &http.Client{
		Transport: transport,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
	return &gate{upstream: upstream, client: client, proxy: proxy, log: logger}
}

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if repository, ok := manifestRepository(r); ok {
		g.putManifest(w, r, repository)
		return
	}
	g.proxy.ServeHTTP(w, r)
}

// manifestRepository is the repository of a PUT /v2/<name>/manifests/<reference>.
func manifestRepository(r *http.Request) (string, bool) {
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/v2/") {
		return "", false
	}
	rest := strings.TrimPrefix(r.URL.Path, "/v2/")
	cut := strings.LastIndex(rest, "/manifests/")
	if cut <= 0 {
		return "", false
	}
	reference := rest[cut+len("/manifests/"):]
	if reference == "" || strings.Contains(reference, "/") {
		return "", false
	}
	return rest[:cut], true
}

func (g *gate) putManifest(w http.ResponseWriter, r *http.Request, repository string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxManifestBytes+1))
	r.Body.Close()
	if err != nil {
		http.Error(w, "reading the manifest: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxManifestBytes {
		refuse(w, http.StatusRequestEntityTooLarge, "MANIFEST_INVALID", "manifest invalid",
			fmt.Sprintf("manifest is over %d bytes", maxManifestBytes))
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	r.TransferEncoding = nil

	if subject, named := subjectOf(body); named {
		if g.absent(r, repository, subject) {
			g.log.Printf("strict-registry: refused PUT %s: subject %s is not in %s",
				r.URL.Path, subject, repository)
			refuse(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry", subject)
			return
		}
	}
	g.proxy.ServeHTTP(w, r)
}

// subjectOf reads the subject's digest of an image manifest or index, if it names one.
// A body that is not JSON is left for the registry to judge.
func subjectOf(body []byte) (string, bool) {
	var manifest struct {
		Subject *struct {
			Digest string `json:"digest"`
		} `json:"subject"`
	}
	if json.Unmarshal(body, &manifest) != nil || manifest.Subject == nil {
		return "", false
	}
	return manifest.Subject.Digest, true
}

// absent asks the registry, with the client's own credentials, whether the subject is
// in the repository. Only a clear "not found" (or a malformed digest) counts as
// absent: on any other answer the PUT goes on, and the registry gives its own answer.
func (g *gate) absent(r *http.Request, repository, subject string) bool {
	if !digestPattern.MatchString(subject) {
		return true
	}
	target := *g.upstream
	target.Path = "/v2/" + repository + "/manifests/" + subject
	target.RawQuery = ""
	head, err := http.NewRequestWithContext(r.Context(), http.MethodHead, target.String(), nil)
	if err != nil {
		return false
	}
	head.Host = r.Host
	head.Header.Set("Accept", manifestTypes)
	if auth := r.Header.Get("Authorization"); auth != "" {
		head.Header.Set("Authorization", auth)
	}
	response, err := g.client.Do(head)
	if err != nil {
		g.log.Printf("strict-registry: HEAD %s failed: %v", target.Path, err)
		return false
	}
	response.Body.Close()
	return response.StatusCode == http.StatusNotFound
}

// refuse answers in the registry API's error format, as GitLab's registry does.
func refuse(w http.ResponseWriter, status int, code, message, detail string) {
	body, _ := json.Marshal(map[string]any{
		"errors": []map[string]string{{"code": code, "message": message, "detail": detail}},
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.WriteHeader(status)
	w.Write(body)
}
