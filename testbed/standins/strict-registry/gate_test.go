package main

import (
	"bytes"
	"encoding/json"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// upstream records what reaches the registry behind the gate and answers a HEAD of a
// manifest from the set it was given.
type upstream struct {
	mu        sync.Mutex
	present   map[string]bool // "<repository>@<digest>"
	requests  []recorded
	putStatus int
}

type recorded struct {
	method, path, host, proto, auth, accept string
	body                                    []byte
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.requests = append(u.requests, recorded{
		r.Method, r.URL.Path, r.Host, r.Header.Get("X-Forwarded-Proto"),
		r.Header.Get("Authorization"), r.Header.Get("Accept"), body,
	})
	u.mu.Unlock()
	if r.Header.Get("Authorization") == "Basic wrong" {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodHead:
		rest := strings.TrimPrefix(r.URL.Path, "/v2/")
		cut := strings.LastIndex(rest, "/manifests/")
		if u.present[rest[:cut]+"@"+rest[cut+len("/manifests/"):]] {
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodPut:
		w.Header().Set("Location", "http://"+r.Host+r.URL.Path)
		w.WriteHeader(u.putStatus)
	default:
		w.Header().Set("Range", "0-"+strconv.Itoa(len(body)-1))
		w.WriteHeader(http.StatusAccepted)
	}
}

func (u *upstream) ofMethod(method string) []recorded {
	u.mu.Lock()
	defer u.mu.Unlock()
	var found []recorded
	for _, request := range u.requests {
		if request.method == method {
			found = append(found, request)
		}
	}
	return found
}

func newTestGate(t *testing.T, present ...string) (*httptest.Server, *upstream) {
	t.Helper()
	behind := &upstream{present: map[string]bool{}, putStatus: http.StatusCreated}
	for _, key := range present {
		behind.present[key] = true
	}
	registry := httptest.NewServer(behind)
	t.Cleanup(registry.Close)
	target, _ := url.Parse(registry.URL)
	front := httptest.NewServer(newGate(target, http.DefaultTransport, log.New(io.Discard, "", 0)))
	t.Cleanup(front.Close)
	return front, behind
}

const (
	imageDigest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	attestation = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",` +
		`"artifactType":"application/vnd.docker.attestation.manifest.v1+json",` +
		`"subject":{"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,"digest":"` +
		imageDigest + `"},"config":{},"layers":[]}`
	plainImage = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{},"layers":[]}`
)

func put(t *testing.T, front *httptest.Server, path, body, auth string) *http.Response {
	t.Helper()
	request, _ := http.NewRequest(http.MethodPut, front.URL+path, strings.NewReader(body))
	request.Header.Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
	if auth != "" {
		request.Header.Set("Authorization", auth)
	}
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { response.Body.Close() })
	return response
}

func TestRefusesAManifestWhoseSubjectIsNotInTheRepository(t *testing.T) {
	front, behind := newTestGate(t, "other/app@"+imageDigest) // present elsewhere only
	response := put(t, front, "/v2/group/app/manifests/sha256:2222", attestation, "")
	if response.StatusCode != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", response.StatusCode)
	}
	var answer struct {
		Errors []struct{ Code, Message, Detail string }
	}
	if err := json.NewDecoder(response.Body).Decode(&answer); err != nil {
		t.Fatal(err)
	}
	if len(answer.Errors) != 1 || answer.Errors[0].Code != "MANIFEST_BLOB_UNKNOWN" ||
		answer.Errors[0].Message != "blob unknown to registry" || answer.Errors[0].Detail != imageDigest {
		t.Fatalf("answer %+v", answer)
	}
	if puts := behind.ofMethod(http.MethodPut); len(puts) != 0 {
		t.Fatalf("the refused manifest reached the registry: %+v", puts)
	}
	heads := behind.ofMethod(http.MethodHead)
	if len(heads) != 1 || heads[0].path != "/v2/group/app/manifests/"+imageDigest {
		t.Fatalf("the subject was not looked up in its own repository: %+v", heads)
	}
}

func TestPassesAManifestWhoseSubjectIsPresent(t *testing.T) {
	front, behind := newTestGate(t, "group/app@"+imageDigest)
	response := put(t, front, "/v2/group/app/manifests/sha256:2222", attestation, "Basic dXNlcjpwdw==")
	if response.StatusCode != http.StatusCreated {
		t.Fatalf("status %d, want 201", response.StatusCode)
	}
	if location := response.Header.Get("Location"); !strings.HasPrefix(location, front.URL) {
		t.Fatalf("Location %q does not name the address the client used (%s)", location, front.URL)
	}
	puts := behind.ofMethod(http.MethodPut)
	if len(puts) != 1 || !bytes.Equal(puts[0].body, []byte(attestation)) {
		t.Fatalf("the manifest did not reach the registry unchanged: %+v", puts)
	}
	heads := behind.ofMethod(http.MethodHead)
	if puts[0].auth != "Basic dXNlcjpwdw==" || heads[0].auth != puts[0].auth {
		t.Fatalf("credentials were not passed on: PUT %q, HEAD %q", puts[0].auth, heads[0].auth)
	}
	if !strings.Contains(heads[0].accept, "application/vnd.oci.image.index.v1+json") {
		t.Fatalf("the HEAD does not accept an index subject: %q", heads[0].accept)
	}
}

func TestAnIndexWithAMissingSubjectIsRefusedToo(t *testing.T) {
	front, _ := newTestGate(t)
	index := `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[],` +
		`"subject":{"digest":"` + imageDigest + `"}}`
	if status := put(t, front, "/v2/app/manifests/signed", index, "").StatusCode; status != http.StatusBadRequest {
		t.Fatalf("status %d, want 400", status)
	}
}

func TestManifestsWithoutSubjectAreNotChecked(t *testing.T) {
	front, behind := newTestGate(t)
	if status := put(t, front, "/v2/app/manifests/main", plainImage, "").StatusCode; status != http.StatusCreated {
		t.Fatalf("status %d, want 201", status)
	}
	if heads := behind.ofMethod(http.MethodHead); len(heads) != 0 {
		t.Fatalf("a manifest without subject was checked: %+v", heads)
	}
}

func TestAnAuthenticationFailureIsTheRegistrysToAnswer(t *testing.T) {
	front, behind := newTestGate(t)
	if status := put(t, front, "/v2/app/manifests/x", attestation, "Basic wrong").StatusCode; status != http.StatusUnauthorized {
		t.Fatalf("status %d, want the registry's 401", status)
	}
	if puts := behind.ofMethod(http.MethodPut); len(puts) != 1 {
		t.Fatalf("the PUT was not left to the registry: %+v", puts)
	}
}

func TestOtherRequestsPassThroughUntouched(t *testing.T) {
	front, behind := newTestGate(t)
	chunk := bytes.Repeat([]byte("layer bytes "), 10000)
	// An unknown length makes the client send the body chunked.
	request, _ := http.NewRequest(http.MethodPatch, front.URL+"/v2/app/blobs/uploads/abc?_state=x",
		io.MultiReader(bytes.NewReader(chunk)))
	request.Host = "registry.test:5000"
	response, err := http.DefaultClient.Do(request)
	if err != nil {
		t.Fatal(err)
	}
	response.Body.Close()
	if response.StatusCode != http.StatusAccepted || response.Header.Get("Range") == "" {
		t.Fatalf("status %d, Range %q", response.StatusCode, response.Header.Get("Range"))
	}
	patches := behind.ofMethod(http.MethodPatch)
	if len(patches) != 1 || !bytes.Equal(patches[0].body, chunk) {
		t.Fatalf("the chunk did not arrive intact")
	}
	if patches[0].host != "registry.test:5000" || patches[0].proto != "http" {
		t.Fatalf("Host %q and X-Forwarded-Proto %q were not kept", patches[0].host, patches[0].proto)
	}
}
