// Parses every ```mermaid block of the Markdown docs with the real `mermaid` package (the grammar GitHub and
// the docs site render with), so a diagram that does not render fails `npm test` (test/docs-mermaid.test.ts).
// By hand: `npx tsx scripts/check-mermaid.ts` prints each block's verdict and exits 1 on any failure.
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";

export interface MermaidBlock {
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  source: string;
}

export interface MermaidFailure {
  block: MermaidBlock;
  message: string;
}

const SKIPPED_DIRS = new Set(["node_modules", "dist", ".git", ".mlops"]);

/** README.md plus every Markdown file under docs/, sdk/ and examples/ (repository-relative, sorted). */
export function markdownFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
      const relative = path.join(dir, entry.name);
      if (entry.isDirectory() && !SKIPPED_DIRS.has(entry.name)) walk(relative);
      else if (entry.isFile() && entry.name.endsWith(".md")) found.push(relative);
    }
  };
  for (const dir of ["docs", "sdk", "examples"]) walk(dir);
  return ["README.md", ...found.sort()];
}

/** The fenced blocks whose info string is `mermaid` (``` or ~~~ fences, as CommonMark defines them). */
export function mermaidBlocks(file: string, text: string): MermaidBlock[] {
  const lines = text.split(/\r?\n/);
  const blocks: MermaidBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*mermaid\s*$/.exec(lines[i]);
    if (!open) continue;
    const fence = open[1];
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !new RegExp(`^ {0,3}${fence[0]}{${fence.length},}\\s*$`).test(lines[j])) {
      body.push(lines[j]);
      j++;
    }
    blocks.push({ file, line: i + 1, source: `${body.join("\n")}\n` });
    i = j;
  }
  return blocks;
}

type Mermaid = typeof import("mermaid").default;
let loaded: Promise<Mermaid> | undefined;

/** mermaid sanitizes labels with DOMPurify, which needs a DOM: a happy-dom window stands in for the browser. */
function loadMermaid(): Promise<Mermaid> {
  loaded ??= (async () => {
    const { Window } = await import("happy-dom");
    const window = new Window();
    Object.assign(globalThis, { window, document: window.document });
    const mermaid = (await import("mermaid")).default;
    mermaid.initialize({ startOnLoad: false });
    return mermaid;
  })();
  return loaded;
}

/** The error mermaid reports for one diagram, or undefined when it parses. */
export async function mermaidError(source: string): Promise<string | undefined> {
  const mermaid = await loadMermaid();
  try {
    await mermaid.parse(source);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

export async function checkMermaidDocs(
  root: string,
): Promise<{ blocks: MermaidBlock[]; failures: MermaidFailure[] }> {
  const blocks = markdownFiles(root).flatMap((file) =>
    mermaidBlocks(file, readFileSync(path.join(root, file), "utf8")),
  );
  const failures: MermaidFailure[] = [];
  for (const block of blocks) {
    const message = await mermaidError(block.source);
    if (message !== undefined) failures.push({ block, message });
  }
  return { blocks, failures };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { blocks, failures } = await checkMermaidDocs(process.cwd());
  for (const { block, message } of failures) console.error(`${block.file}:${block.line}: ${message}`);
  console.log(`${blocks.length} mermaid blocks, ${failures.length} failed to parse`);
  process.exitCode = failures.length > 0 ? 1 : 0;
}
