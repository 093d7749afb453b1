import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { generateSyntheticDataset, type LabelRecord } from "../src/demo/synthetic-data.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

const COUNT = 24;

describeEachDatabase("Label Studio export and COCO imports through the CLI", (kind) => {
  let server: TestServer;
  let dir: string;
  let records: LabelRecord[];
  const mlops = async (...args: string[]) => {
    const result = await runCliProcess(args, { MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken });
    if (result.code !== 0) throw new Error(`mlops ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    return args.includes("--json") ? JSON.parse(result.stdout) : result.stdout;
  };

  beforeAll(async () => {
    server = await startTestServer(kind);
    dir = mkdtempSync(path.join(os.tmpdir(), "mlops-import-"));
    await generateSyntheticDataset({ outDir: path.join(dir, "synth"), count: COUNT, seed: 3 });
    records = JSON.parse(readFileSync(path.join(dir, "synth", "labels.json"), "utf8")) as LabelRecord[];
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("imports a Label Studio JSON export (percent rectangles) and COCO (pixel boxes) into detection datasets", async () => {
    const size = records[0].width;
    const tasks = records.map((r, i) => ({
      id: 100 + i,
      data: {
        image:
          i % 2
            ? `/data/upload/3/${(0x1a2b3c00 + i).toString(16)}-${path.basename(r.file)}`
            : `/data/local-files/?d=datasets/synth/${r.file}`,
      },
      annotations: [
        {
          id: 1,
          was_cancelled: false,
          updated_at: "2024-01-01T00:00:00Z",
          result: [{ type: "choices", value: { choices: ["wrong"] } }],
        },
        {
          id: 2,
          was_cancelled: false,
          updated_at: "2024-01-02T00:00:00Z",
          result: r.boxes.map((b) => ({
            type: "rectanglelabels",
            from_name: "label",
            to_name: "image",
            original_width: size,
            original_height: size,
            value: {
              x: (b.x / size) * 100,
              y: (b.y / size) * 100,
              width: (b.w / size) * 100,
              height: (b.h / size) * 100,
              rotation: 0,
              rectanglelabels: [b.class],
            },
          })),
        },
      ],
    }));
    writeFileSync(path.join(dir, "ls-export.json"), JSON.stringify(tasks));
    await server.call("POST", "/api/v1/datasets", { name: "shapes-ls", task: "detection" });
    const ls = await mlops(
      "data",
      "import",
      "shapes-ls",
      "--label-studio",
      path.join(dir, "ls-export.json"),
      "--images",
      path.join(dir, "synth"),
      "--json",
    );
    expect(ls).toMatchObject({
      format: "label-studio",
      items: COUNT,
      created: COUNT,
      labelsStored: COUNT,
      skipped: [],
    });

    const categories = ["circle", "square", "triangle"].map((name, i) => ({ id: i + 1, name }));
    const coco = {
      images: records.map((r, i) => ({ id: i + 1, file_name: r.file, width: r.width, height: r.height })),
      annotations: records.flatMap((r, i) =>
        r.boxes.map((b, j) => ({
          id: i * 10 + j,
          image_id: i + 1,
          category_id: categories.find((c) => c.name === b.class)?.id,
          bbox: [b.x, b.y, b.w, b.h],
        })),
      ),
      categories,
    };
    writeFileSync(path.join(dir, "coco.json"), JSON.stringify(coco));
    await server.call("POST", "/api/v1/datasets", { name: "shapes-coco", task: "detection" });
    const imported = await mlops(
      "data",
      "import",
      "shapes-coco",
      "--coco",
      path.join(dir, "coco.json"),
      "--images",
      path.join(dir, "synth"),
      "--json",
    );
    expect(imported).toMatchObject({
      format: "coco",
      items: COUNT,
      created: COUNT,
      labelsStored: COUNT,
      skipped: [],
    });

    // Both formats describe the same boxes: the labels agree, item by item.
    const a = await server.call("GET", "/api/v1/datasets/shapes-ls/items?limit=1000");
    const b = await server.call("GET", "/api/v1/datasets/shapes-coco/items?limit=1000");
    const byFile = (body: unknown) =>
      new Map(
        (
          body as { items: Array<{ fileName: string; label: { boxes: Array<Record<string, number>> } }> }
        ).items.map((i) => [i.fileName, i.label]),
      );
    const lsLabels = byFile(a.body);
    const cocoLabels = byFile(b.body);
    expect(lsLabels.size).toBe(COUNT);
    for (const [file, label] of cocoLabels) {
      const other = lsLabels.get(file);
      expect(other?.boxes.length).toBe(label.boxes.length);
      label.boxes.forEach((box, i) => {
        for (const k of ["x", "y", "w", "h"]) expect(other?.boxes[i][k]).toBeCloseTo(box[k], 9);
      });
    }
    expect(records[0].boxes.length).toBeGreaterThan(0);
  });
});
