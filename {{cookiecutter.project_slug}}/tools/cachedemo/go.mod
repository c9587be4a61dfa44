// The cache demo is a module of its own, so the service's `go test ./...` and
// `go vet ./...` (and the go-test CI job) never build or test it.
module {{ cookiecutter.go_module_path }}/tools/cachedemo

go {{ cookiecutter.go_version }}
