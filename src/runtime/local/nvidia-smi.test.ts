import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { detectNvidiaGpus } from "./nvidia-smi.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "nvsmi-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function fakeSmi(body: string): string {
  const file = path.join(dir, "nvidia-smi");
  writeFileSync(file, `#!/bin/sh\n${body}\n`);
  chmodSync(file, 0o755);
  return file;
}

describe("detectNvidiaGpus", () => {
  it("returns null where nvidia-smi does not exist", async () => {
    expect(await detectNvidiaGpus({ nvidiaSmiPath: path.join(dir, "missing") })).toBeNull();
  });

  it("returns null where the driver fails", async () => {
    const smi = fakeSmi(
      'echo "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver" >&2; exit 9',
    );
    expect(await detectNvidiaGpus({ nvidiaSmiPath: smi })).toBeNull();
  });

  it("parses what a driver reports, passing the query it documents", async () => {
    const smi = fakeSmi(
      [
        'if [ "$1" != "--query-gpu=index,uuid,name,memory.total" ]; then exit 2; fi',
        'echo "0, GPU-11111111-2222-3333-4444-555555555555, NVIDIA A100-SXM4-80GB, 81920"',
        'echo "1, GPU-66666666-2222-3333-4444-555555555555, NVIDIA A100-SXM4-80GB, 81920"',
      ].join("\n"),
    );
    const devices = await detectNvidiaGpus({ nvidiaSmiPath: smi });
    expect(devices?.map((d) => [d.index, d.type, d.memoryMiB, d.simulated])).toEqual([
      [0, "a100", 81920, false],
      [1, "a100", 81920, false],
    ]);
  });
});
