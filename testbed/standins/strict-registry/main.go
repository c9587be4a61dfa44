// Command strict-registry stands in front of a registry that shares its network
// namespace and refuses what GitLab's container registry refuses while a plain
// distribution registry takes it: a manifest whose `subject` is not yet in the
// repository. Every other request goes through untouched.
//
// Settings come from the environment:
//
//	STRICT_LISTEN    where it listens (default :5000, the registry's usual port)
//	STRICT_UPSTREAM  the registry behind it (default http://127.0.0.1:5001)
//	STRICT_TLS_CERT, STRICT_TLS_KEY  serve HTTPS with this certificate and key
package main

import (
	"log"
	"net/http"
	"net/url"
	"os"
	"time"
)

func main() {
	listen := setting("STRICT_LISTEN", ":5000")
	upstream, err := url.Parse(setting("STRICT_UPSTREAM", "http://127.0.0.1:5001"))
	if err != nil || upstream.Host == "" {
		log.Fatalf("strict-registry: STRICT_UPSTREAM is not a URL: %v", err)
	}
	cert, key := os.Getenv("STRICT_TLS_CERT"), os.Getenv("STRICT_TLS_KEY")
	server := &http.Server{
		Addr:              listen,
		Handler:           newGate(upstream, http.DefaultTransport, log.Default()),
		ReadHeaderTimeout: 30 * time.Second,
	}
	log.Printf("strict-registry: listening on %s (TLS: %t), registry at %s", listen, cert != "", upstream)
	if cert != "" {
		err = server.ListenAndServeTLS(cert, key)
	} else {
		err = server.ListenAndServe()
	}
	log.Fatalf("strict-registry: %v", err)
}

func setting(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
