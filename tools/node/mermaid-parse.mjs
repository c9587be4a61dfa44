// Parses Mermaid diagrams with Mermaid's own parser, the one GitLab's renderer runs.
// Reads a JSON array of diagram sources on stdin and writes a JSON array of results,
// one per diagram: {"ok": true, "type": "<diagram type>"} or {"ok": false, "error": "..."}.
// Mermaid's flowchart parser sanitises labels with DOMPurify, which needs a DOM: jsdom
// provides one. Nothing is rendered, so no browser is needed.
import { JSDOM } from "jsdom";

const { window } = new JSDOM("");
globalThis.window = window;
globalThis.document = window.document;
const { default: mermaid } = await import("mermaid");

let input = "";
for await (const chunk of process.stdin) input += chunk;
const results = [];
for (const source of JSON.parse(input)) {
  try {
    const parsed = await mermaid.parse(source);
    results.push({ ok: true, type: parsed.diagramType });
  } catch (error) {
    results.push({ ok: false, error: String(error?.message ?? error) });
  }
}
process.stdout.write(JSON.stringify(results) + "\n");
