"""Benchmarks of the template's build caching; run `python3 -m bench.run --help`."""
