#!/bin/sh
# Entry point of the SBOM scanner stand-in. BuildKit runs the scanner with the image
# to describe mounted at $BUILDKIT_SCAN_SOURCE and collects every file it writes to
# $BUILDKIT_SCAN_DESTINATION as an in-toto statement. The real scanner (Syft) lists
# the packages it finds; this one lists the image's regular files, which is enough to
# show that the pipeline's --sbom flag makes BuildKit attach an SPDX document.
set -eu
src=${BUILDKIT_SCAN_SOURCE:?BuildKit sets BUILDKIT_SCAN_SOURCE}
out=${BUILDKIT_SCAN_DESTINATION:?BuildKit sets BUILDKIT_SCAN_DESTINATION}
files=$(cd "$src" && find . -type f | sed 's|^\./||' | sort |
	awk 'BEGIN { sep = "" } { printf "%s{\"fileName\": \"%s\", \"SPDXID\": \"SPDXRef-File-%d\"}", sep, $0, NR; sep = ", " }')
cat >"$out/sbom.spdx.json" <<JSON
{
  "_type": "https://in-toto.io/Statement/v0.1",
  "predicateType": "https://spdx.dev/Document",
  "subject": [],
  "predicate": {
    "spdxVersion": "SPDX-2.3",
    "dataLicense": "CC0-1.0",
    "SPDXID": "SPDXRef-DOCUMENT",
    "name": "sbom",
    "documentNamespace": "https://stand-in.invalid/sbom",
    "creationInfo": {"created": "1970-01-01T00:00:00Z", "creators": ["Tool: testbed SBOM scanner stand-in"]},
    "files": [$files]
  }
}
JSON
