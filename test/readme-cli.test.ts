import { readFileSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { describe, expect, it } from "vitest";
import { createContext } from "../src/cli/context.js";
import { buildProgram } from "../src/cli/main.js";
import { FIXTURE_MODELS_DIR } from "./fixtures/models/fixtures.js";
import { runCliProcess } from "./support/cli.js";
import { REPO_ROOT } from "./support/processes.js";
import { startTestServer } from "./support/server.js";

/** The `mlops ...` usages in the first column of README's CLI table, each with its row's line. */
function readmeUsages(): Array<{ line: number; usage: string }> {
  const lines = readFileSync(path.join(REPO_ROOT, "README.md"), "utf8").split("\n");
  const start = lines.findIndex((l) => l.startsWith("## CLI"));
  const end = lines.findIndex((l, i) => i > start && l.startsWith("## "));
  const usages: Array<{ line: number; usage: string }> = [];
  lines.slice(start, end).forEach((row, i) => {
    if (!row.startsWith("| `mlops ")) return;
    const firstCell = row.split(/(?<!\\)\|/)[1];
    for (const m of firstCell.matchAll(/`(mlops [^`]+)`/g)) usages.push({ line: start + i + 1, usage: m[1] });
  });
  return usages;
}

const sub = (cmd: Command, name: string) =>
  cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));

/** The commands a usage names: `mlops model list\|show NAME` -> [model list, model show]. */
function commandsOf(program: Command, usage: string): Command[] {
  const segments = usage.split("\\|");
  const chain: Command[] = [program];
  for (const word of segments[0].split(/\s+/).slice(1)) {
    const next = sub(chain[chain.length - 1], word);
    if (!next) break;
    chain.push(next);
  }
  if (chain.length === 1) return [];
  const found = [chain[chain.length - 1]];
  const parent = chain[chain.length - 2];
  // The alternatives after `\|` are siblings of a subcommand (`list\|show\|versions`).
  if (parent !== program) {
    for (const segment of segments.slice(1)) {
      const sibling = sub(parent, segment.trim().split(/\s+/)[0]);
      if (sibling) found.push(sibling);
    }
  }
  return found;
}

const longFlags = (cmd: Command) => cmd.options.flatMap((o) => [o.long, o.negate ? o.long : undefined]);

describe("README's CLI table matches the CLI (docs: README.md#cli)", () => {
  const program = buildProgram(createContext({ MLOPS_CONFIG_DIR: "/nonexistent" }));
  const usages = readmeUsages();

  it("finds the table", () => {
    expect(usages.length).toBeGreaterThan(30);
  });

  it("every command it shows exists, with every --flag it shows", () => {
    const problems: string[] = [];
    for (const { line, usage } of usages) {
      const commands = commandsOf(program, usage);
      if (commands.length === 0) {
        problems.push(`README.md:${line}: no such command: ${usage}`);
        continue;
      }
      const known = new Set([...commands.flatMap(longFlags), ...longFlags(program)]);
      for (const flag of usage.match(/--[a-z][a-z0-9-]*/g) ?? []) {
        if (!known.has(flag))
          problems.push(`README.md:${line}: ${usage.split(" ").slice(0, 3).join(" ")}: no ${flag}`);
      }
    }
    expect(problems).toEqual([]);
  });

  it("every required option of a command it shows is in its usage (`mlops model promote NAME VERSION` works)", () => {
    const problems: string[] = [];
    for (const { line, usage } of usages) {
      for (const cmd of commandsOf(program, usage)) {
        for (const option of cmd.options.filter((o) => o.mandatory)) {
          if (!usage.includes(option.long ?? ""))
            problems.push(`README.md:${line}: ${cmd.name()} needs ${option.long}`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

describe("`mlops model promote NAME VERSION` as README shows it", () => {
  it("needs no --reason: the server is asked (and refuses here only for want of a gate)", async () => {
    const server = await startTestServer("sqlite");
    try {
      const env = { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken, MLOPS_CONFIG_DIR: server.dataDir };
      const onnx = path.join(FIXTURE_MODELS_DIR, "tiny-classifier", "model.onnx");
      const registered = await runCliProcess(
        ["model", "register", "shapes", "--onnx", onnx, "--labels", "circle,square,triangle"],
        env,
      );
      expect(registered.code, registered.stderr).toBe(0);
      const staged = await runCliProcess(
        ["model", "transition", "shapes", "1", "staging", "--reason", "x"],
        env,
      );
      expect(staged.code, staged.stderr).toBe(0);
      const promoted = await runCliProcess(["model", "promote", "shapes", "1"], env);
      expect(promoted.stderr).not.toMatch(/required option/);
      expect(promoted.code).toBe(5);
      expect(promoted.stderr).toMatch(/validation gate/);
    } finally {
      await server.stop();
    }
  });
});
