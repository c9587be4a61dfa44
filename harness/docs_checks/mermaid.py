"""Mermaid diagrams in Markdown: found, checked with Mermaid's own parser, and read.

GitLab draws a fenced ```mermaid block as a picture. `blocks` finds them in a Markdown
text; `check` runs them through Mermaid's parser (the npm package pinned in tools/node,
under the Node pinned there, with jsdom for the DOM its flowchart parser needs;
`tools/node/mermaid-parse.mjs`) and returns one `Parsed` per diagram; `parser_problem`
says why that parser cannot run.
`nodes` and `edges` read a flowchart's node labels and labelled edges, so a test can
compare what a diagram says with the files it describes.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass

from harness.infra.nodetools import node_command, node_env, node_problem, package_problem
from harness.paths import NODE_TOOLS

PARSER = NODE_TOOLS / "mermaid-parse.mjs"
PACKAGES = ("mermaid", "jsdom")
BLOCK_RE = re.compile(r"^```mermaid[ \t]*\n(?P<body>.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)
# A node with a quoted label: id["..."], id[("...")] (a cylinder), id("...").
NODE_RE = re.compile(r'\b(?P<id>[A-Za-z_][\w]*)\s*[\[(]{1,2}"(?P<label>[^"]*)"[\])]{1,2}')
# An edge with a label between pipes: a -.->|reads| b, a ==>|"reads 1st"| b.
EDGE_RE = re.compile(
    r'^\s*(?P<src>[A-Za-z_]\w*)\s*(?P<arrow>-\.->|==>|-->|<-->)\|"?(?P<label>[^|"]*)"?\|\s*'
    r"(?P<dst>[A-Za-z_]\w*)\s*$"
)


@dataclass(frozen=True)
class Parsed:
    ok: bool
    diagram_type: str = ""
    error: str = ""


@dataclass(frozen=True)
class Edge:
    src: str
    arrow: str
    label: str
    dst: str


def blocks(markdown: str) -> list[str]:
    """The source of every ```mermaid block, in order."""
    return [match["body"] for match in BLOCK_RE.finditer(markdown)]


def parser_problem() -> str:
    """Why the pinned parser cannot run, or an empty string when it can."""
    for problem in (node_problem(), *(package_problem(package) for package in PACKAGES)):
        if problem:
            return problem
    return ""


def check(diagrams: list[str]) -> list[Parsed]:
    """Parse each diagram with Mermaid's parser, all in one node process."""
    run = subprocess.run(
        node_command(PARSER),
        input=json.dumps(diagrams), cwd=NODE_TOOLS, env=node_env(),
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    if run.returncode != 0:
        raise RuntimeError(f"{PARSER.name} failed:\n{run.stderr[-2000:]}")
    results = json.loads(run.stdout)
    return [Parsed(r["ok"], r.get("type", ""), r.get("error", "")) for r in results]


def nodes(diagram: str) -> dict[str, str]:
    """Node id -> its quoted label."""
    return {match["id"]: match["label"] for match in NODE_RE.finditer(diagram)}


def edges(diagram: str) -> list[Edge]:
    """Every edge written on a line of its own with a label: a -->|label| b."""
    found = []
    for line in diagram.splitlines():
        if match := EDGE_RE.match(line):
            found.append(Edge(match["src"], match["arrow"], match["label"], match["dst"]))
    return found
