# The build job's cache report: reads the build's output, BuildKit's plain progress
# (`docker buildx build` or `buildctl build` with --progress=plain), and prints how
# many Dockerfile steps came from the cache, what the compile step cost, which cache
# refs were read and whether they were found, how much was pulled, and whether the
# cache export failed. Exits 3 when it did: the job then ends in GitLab's "passed
# with warnings" state (allow_failure: exit_codes in .gitlab-ci.yml).
#
# Plain progress names each vertex on its first line ("#7 [builder 4/9] RUN go mod
# download") and ends it with "#7 CACHED", "#7 DONE 1.2s" or "#7 ERROR: ...". A step
# that BuildKit took from a registry cache may instead show only layer downloads and
# unpacks under its number, then DONE: with no output of its own, it came from the
# cache too.

function bytes(size, value, unit) {
  value = size + 0
  unit = size
  sub(/^[0-9.]+/, "", unit)
  if (unit == "kB") return value * 1000
  if (unit == "MB") return value * 1000000
  if (unit == "GB") return value * 1000000000
  return value
}

$1 ~ /^#[0-9]+$/ {
  id = $1
  rest = substr($0, length(id) + 2)
  if (!(id in name)) {
    name[id] = rest
    order[++count] = id
    next
  }
  if (rest == name[id]) next  # the name again, where its output resumes
  if (rest == "CACHED") { state[id] = "cached"; next }
  if (rest ~ /^DONE /) { state[id] = "done"; seconds[id] = substr(rest, 6) + 0; next }
  if (rest ~ /^ERROR: /) { state[id] = "error"; failure[id] = substr(rest, 8); next }
  if (rest ~ /^sha256:[0-9a-f]+ .* done$/) {
    moved[id] = 1
    # "sha256:<digest> 45.21MB / 45.21MB 1.0s done": count each layer once.
    if (!($2 in pulled)) { pulled[$2] = 1; total += bytes($5) }
    next
  }
  if (rest ~ /^(sha256:|extracting sha256:)/) { moved[id] = 1; next }
  if (rest ~ /^[0-9]+\.[0-9]+ /) { logged[id] = 1; next }  # the step's own output
}

END {
  steps = 0; cached = 0
  for (i = 1; i <= count; i++) {
    id = order[i]
    label = name[id]
    if (label ~ /^importing cache manifest from /) {
      ref = substr(label, 31)
      if (state[id] != "error") print "cache report: read " ref " (found)"
      else if (failure[id] ~ /: not found$/) print "cache report: read " ref " (not found)"
      else print "cache report: read " ref " (failed: " failure[id] ")"
      continue
    }
    if (label ~ /^exporting cache to /) {
      exported = 1
      if (state[id] == "error") export_failure = failure[id]
      continue
    }
    # Dockerfile steps: "[stage n/m] ..." or "[platform stage n/m] ...", FROM aside.
    if (label !~ /^\[[^]]* [0-9]+\/[0-9]+\] / || label ~ /^\[[^]]*\] FROM /) continue
    steps++
    from_cache = state[id] == "cached" || (state[id] == "done" && moved[id] && !logged[id])
    cached += from_cache
    # The Dockerfile's compile step (one per target platform).
    if (label ~ /\] RUN go build -ldflags/) {
      if (from_cache) compile = compile "; the compile step came from the cache"
      else compile = compile sprintf("; the compile step ran in %.1f s", seconds[id])
    }
  }
  if (steps == 0) {
    print "cache report: no Dockerfile steps in the build's output (it needs --progress=plain)"
    exit 0
  }
  printf "cache report: %d of %d steps came from the cache, %d ran\n", cached, steps, steps - cached
  if (compile != "") print "cache report: " substr(compile, 3)
  printf "cache report: pulled %.1f MB of layers\n", total / 1000000
  if (export_failure != "") {
    print "cache report: WARNING: the cache export failed, the image was pushed: " export_failure
    exit 3
  }
  if (exported) print "cache report: wrote " ENVIRON["CACHE_TO_REF"]
}
