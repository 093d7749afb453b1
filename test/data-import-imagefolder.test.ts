import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSyntheticDataset } from "../src/demo/synthetic-data.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const COUNT = 24;

describeEachDatabase("ImageFolder import, snapshot, export and label push through the CLI", (kind) => {
  let server: TestServer;
  let dir: string;
  const mlops = async (...args: string[]) => {
    const result = await runCliProcess(args, { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken });
    if (result.code !== 0) throw new Error(`mlops ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    return args.includes("--json") ? JSON.parse(result.stdout) : result.stdout;
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    dir = mkdtempSync(path.join(os.tmpdir(), "mlops-import-"));
    await generateSyntheticDataset({ outDir: path.join(dir, "synth"), count: COUNT, seed: 3 });
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("imports an ImageFolder, idempotently, snapshots it and exports it as ImageFolder", async () => {
    await mlops("data", "create", "shapes", "--task", "classification");
    const first = await mlops(
      "data",
      "import",
      "shapes",
      "--image-folder",
      path.join(dir, "synth"),
      "--batch-size",
      "10",
      "--json",
    );
    expect(first).toMatchObject({
      format: "image-folder",
      items: COUNT,
      created: COUNT,
      uploaded: COUNT,
      labelsStored: COUNT,
    });
    const again = await mlops(
      "data",
      "import",
      "shapes",
      "--image-folder",
      path.join(dir, "synth"),
      "--json",
    );
    expect(again).toMatchObject({ items: COUNT, created: 0, uploaded: 0, labelsStored: 0 });
    const shown = (await server.call("GET", "/api/v1/datasets/shapes")).body;
    expect(shown).toMatchObject({
      classes: ["circle", "square", "triangle"],
      stats: { items: COUNT, labeled: COUNT },
    });

    const snap = await mlops("data", "snapshot", "shapes", "--json");
    expect(snap).toMatchObject({ created: true, itemCount: COUNT });
    expect(((await server.call("POST", "/api/v1/datasets/shapes/snapshots")).body as { id: string }).id).toBe(
      snap.id,
    );

    const exported = await mlops(
      "data",
      "export",
      snap.id.slice(0, 12),
      "--out",
      path.join(dir, "export"),
      "--json",
    );
    expect(exported).toMatchObject({ images: COUNT, urlItems: 0 });
    let files = 0;
    for (const split of ["train", "val", "holdout"]) {
      expect(readdirSync(path.join(dir, "export", split)).sort()).toEqual(["circle", "square", "triangle"]);
      for (const cls of ["circle", "square", "triangle"]) {
        const names = readdirSync(path.join(dir, "export", split, cls));
        expect(names.every((n) => n.endsWith(".png"))).toBe(true);
        files += names.length;
      }
      expect(readdirSync(path.join(dir, "export", split, "circle")).length).toBeLessThanOrEqual(COUNT);
    }
    expect(files).toBe(COUNT);
    const manifest = JSON.parse(readFileSync(path.join(dir, "export", "manifest.json"), "utf8"));
    expect(manifest.splitCounts).toEqual(snap.splitCounts);

    // A relabel pushed from a file shows in the diff of the next snapshot.
    const target = manifest.items[0];
    const other = target.label.class === "circle" ? "square" : "circle";
    writeFileSync(
      path.join(dir, "labels.jsonl"),
      `${JSON.stringify({ item: target.id, idempotencyKey: "fix-0", label: { class: other } })}\n`,
    );
    expect(
      await mlops("data", "labels", "push", "shapes", "--file", path.join(dir, "labels.jsonl"), "--json"),
    ).toEqual({ stored: 1, duplicates: 0 });
    const resend = await server.call("POST", "/api/v1/datasets/shapes/labels", {
      labels: [{ item: target.id, idempotencyKey: "fix-0", label: { class: other } }],
    });
    expect(resend.body).toMatchObject({ stored: 0, duplicates: 1 });
    const next = (await server.call("POST", "/api/v1/datasets/shapes/snapshots")).body as { id: string };
    const diff = (await server.call("GET", `/api/v1/snapshots/${snap.id}/diff/${next.id}`)).body as {
      relabeled: unknown[];
      added: unknown[];
    };
    expect(diff.relabeled).toEqual([
      { id: target.id, key: target.key, from: target.label, to: { class: other } },
    ]);
    expect(diff.added).toEqual([]);
  });
});
