"""Checks of the documentation: Mermaid diagrams parsed with Mermaid's own parser."""
