"""Reusable machinery of the test tiers and the benchmark (see TESTING.md)."""
