import { createHash } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { InputError } from "../errors.js";
import { generateSyntheticDataset, type LabelRecord } from "./synthetic-data.js";

let tmp: string;
beforeEach(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "synthetic-data-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function treeHash(dir: string): Promise<string> {
  const hash = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const entries = (await readdir(path.join(dir, rel), { withFileTypes: true })).sort((a, b) =>
      a.name.localeCompare(b.name),
    );
    for (const entry of entries) {
      const child = path.join(rel, entry.name);
      if (entry.isDirectory()) await walk(child);
      else hash.update(child).update(await readFile(path.join(dir, child)));
    }
  };
  await walk("");
  return hash.digest("hex");
}

async function readLabels(dir: string): Promise<LabelRecord[]> {
  return JSON.parse(await readFile(path.join(dir, "labels.json"), "utf8")) as LabelRecord[];
}

describe("generateSyntheticDataset", () => {
  it("writes byte-identical files for the same options, different ones for another seed or the shift", async () => {
    const run = (name: string, seed: number, shift = false) =>
      generateSyntheticDataset({ outDir: path.join(tmp, name), count: 24, seed, shift });
    await Promise.all([run("a", 7), run("b", 7), run("c", 8), run("d", 7, true)]);
    const [a, b, c, d] = await Promise.all(["a", "b", "c", "d"].map((n) => treeHash(path.join(tmp, n))));
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
  });

  it("balances the classes and keeps labels.json consistent with the image files", async () => {
    const outDir = path.join(tmp, "set");
    const progress: number[] = [];
    const result = await generateSyntheticDataset({
      outDir,
      count: 31,
      seed: 3,
      imageSize: 64,
      onProgress: (done) => progress.push(done),
    });
    expect(result.perClass).toEqual({ circle: 11, square: 10, triangle: 10 });
    expect(progress.at(-1)).toBe(31);

    const labels = await readLabels(outDir);
    expect(labels).toHaveLength(31);
    const filesOnDisk: string[] = [];
    for (const cls of ["circle", "square", "triangle"]) {
      const files = await readdir(path.join(outDir, cls));
      expect(files).toHaveLength(result.perClass[cls]);
      filesOnDisk.push(...files.map((f) => `${cls}/${f}`));
    }
    expect(labels.map((l) => l.file).sort()).toEqual(filesOnDisk.sort());
    for (const label of labels) {
      expect(label.file.startsWith(`${label.class}/`)).toBe(true);
      const meta = await sharp(path.join(outDir, label.file)).metadata();
      expect([meta.width, meta.height, meta.channels]).toEqual([64, 64, 3]);
      expect([label.width, label.height]).toEqual([64, 64]);
      expect(label.boxes).toHaveLength(1);
      const box = label.boxes[0];
      expect(box.class).toBe(label.class);
      expect(box.w).toBeGreaterThan(4);
      expect(box.h).toBeGreaterThan(4);
      expect(box.x).toBeGreaterThanOrEqual(0);
      expect(box.y).toBeGreaterThanOrEqual(0);
      expect(box.x + box.w).toBeLessThanOrEqual(64);
      expect(box.y + box.h).toBeLessThanOrEqual(64);
    }
  });

  it("refuses bad input and non-empty output directories", async () => {
    await expect(generateSyntheticDataset({ outDir: path.join(tmp, "x"), count: 0 })).rejects.toThrow(
      InputError,
    );
    await expect(
      generateSyntheticDataset({ outDir: path.join(tmp, "y"), count: 3, classes: ["circle", "hexagon"] }),
    ).rejects.toThrow(/hexagon/);
    const busy = path.join(tmp, "busy");
    await mkdir(busy);
    await writeFile(path.join(busy, "keep.txt"), "mine");
    await expect(generateSyntheticDataset({ outDir: busy, count: 3 })).rejects.toThrow(/not empty/);
    expect(await readFile(path.join(busy, "keep.txt"), "utf8")).toBe("mine");
  });
});
