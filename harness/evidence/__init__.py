"""Evidence of what a build did: rawjson step tables, the Dockerfile steps the tiers
name, Go build-cache counts, and the recorded rawjson fixtures."""
