import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { checkMermaidDocs, markdownFiles, mermaidBlocks, mermaidError } from "../scripts/check-mermaid.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

describe("mermaid diagrams in the docs", () => {
  it("every ```mermaid block of README.md and docs/ parses with the real mermaid grammar", async () => {
    const { blocks, failures } = await checkMermaidDocs(root);
    // The sequence and architecture diagrams exist: a broken block finder would otherwise pass vacuously.
    expect(blocks.filter((b) => b.file.startsWith("docs/sequence/")).length).toBeGreaterThanOrEqual(3);
    expect(blocks.length).toBeGreaterThanOrEqual(7);
    expect(failures.map((f) => `${f.block.file}:${f.block.line}: ${f.message.split("\n")[0]}`)).toEqual([]);
  });

  it("refuses what Mermaid 11 refuses: ';' in a message, a participant named Loop, an unknown diagram", async () => {
    expect(await mermaidError("sequenceDiagram\n  A->>B: insert job; audit job.submit\n")).toMatch(
      /Parse error/,
    );
    expect(await mermaidError("sequenceDiagram\n  participant Loop\n  A->>Loop: wake()\n")).toMatch(
      /Parse error/,
    );
    expect(await mermaidError("flowchart LR\n  A -->\n")).toMatch(/error/i);
    expect(await mermaidError("notADiagram\n  A-B\n")).toBeDefined();
    expect(
      await mermaidError("sequenceDiagram\n  participant PL as PipelineLoop\n  A->>PL: wake()\n"),
    ).toBeUndefined();
    expect(await mermaidError('flowchart LR\n  A["<b>html</b> label"] --> B\n')).toBeUndefined();
  });

  it("finds fenced mermaid blocks (``` and ~~~, indented up to 3 spaces) and nothing else", () => {
    const text = [
      "# t",
      "```mermaid",
      "flowchart LR",
      "  A --> B",
      "```",
      "```ts",
      "const x = 1;",
      "```",
      "   ~~~~ mermaid",
      "sequenceDiagram",
      "```",
      "  A->>B: hi",
      "~~~~",
    ].join("\n");
    const blocks = mermaidBlocks("x.md", text);
    expect(blocks.map((b) => b.line)).toEqual([2, 9]);
    expect(blocks[0].source).toBe("flowchart LR\n  A --> B\n");
    expect(blocks[1].source).toBe("sequenceDiagram\n```\n  A->>B: hi\n");
  });

  it("looks at README.md and every Markdown file under docs/", () => {
    const files = markdownFiles(root);
    expect(files[0]).toBe("README.md");
    expect(files).toContain(path.join("docs", "sequence", "canary.md"));
    expect(files).toContain(path.join("docs", "architecture", "system-architecture.md"));
  });
});
