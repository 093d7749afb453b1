import { mkdtemp, readdir, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { registerDemoDataCommand } from "./demo-data-command.js";

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "demo-data-cmd-"));
});
afterEach(async () => {
  vi.restoreAllMocks();
  await rm(tmp, { recursive: true, force: true });
});

describe("mlops demo data", () => {
  it("writes the data set and prints the JSON summary", async () => {
    const program = new Command("mlops").exitOverride();
    registerDemoDataCommand(program.command("demo"));
    const printed: string[] = [];
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      printed.push(String(chunk));
      return true;
    });
    const out = path.join(tmp, "shapes");
    await program.parseAsync(
      ["demo", "data", "--out", out, "--count", "7", "--seed", "3", "--shift", "--json"],
      {
        from: "user",
      },
    );
    vi.restoreAllMocks();
    expect(JSON.parse(printed.join(""))).toEqual({
      outDir: out,
      count: 7,
      classes: ["circle", "square", "triangle"],
    });
    expect((await readdir(out)).sort()).toEqual(["circle", "labels.json", "square", "triangle"]);
  });
});
