package main

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPinnedBuildKitReadsTheCIFile(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, ci, want string
	}{
		{"prefixed", "variables:\n  BUILDKIT_IMAGE: \"${IMAGE_PREFIX}moby/buildkit:v1.2.3\"\n", "moby/buildkit:v1.2.3"},
		{"plain", "variables:\n  BUILDKIT_IMAGE: moby/buildkit:v1.2.3\n", "moby/buildkit:v1.2.3"},
		{"absent", "variables:\n  GO_IMAGE: golang:1.27.4\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, tt.name+".yml")
			if err := os.WriteFile(file, []byte(tt.ci), 0o644); err != nil {
				t.Fatal(err)
			}
			if got := pinnedBuildKit(file); got != tt.want {
				t.Errorf("pinnedBuildKit: got %q, want %q", got, tt.want)
			}
		})
	}
	if got := pinnedBuildKit(filepath.Join(dir, "missing.yml")); got != "" {
		t.Errorf("pinnedBuildKit of a missing file: got %q, want \"\"", got)
	}
}
