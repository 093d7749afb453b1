import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { type BatchViewT, datasetOf, fixtureVersion, getBatch, syntheticPngs } from "./batch-helpers.js";
import { submit, waitForState } from "./jobs-helpers.js";
import { noisePng } from "./serving-fixtures.js";
import { runCliProcess } from "./support/cli.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

/**
 * `mlops batch-predict` as users run it: a directory of images through a detector, waited for, written as
 * Label Studio tasks and COCO; and a dataset batch cancelled, then resumed to completion.
 */
describeEachDatabase("mlops batch-predict", (kind) => {
  let server: TestServer;
  let dir: string;
  const env = () => ({ MLOPS_URL: server.url, MLOPS_TOKEN: server.adminToken });

  beforeAll(async () => {
    server = await startTestServer(kind, { MLOPS_BACKGROUND_LOOPS: "true", MLOPS_LEASE_TTL_MS: "3000" });
    dir = mkdtempSync(path.join(os.tmpdir(), "mlops-batch-cli-"));
  }, 60_000);
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("predicts a directory with a detector and writes Label Studio tasks and COCO (boxes in pixels)", async () => {
    const version = await fixtureVersion(server, "shapes-det", "tiny-detector");
    const input = path.join(dir, "images");
    mkdirSync(path.join(input, "sub"), { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < 40; i++) {
      const name = i % 2 === 0 ? `img-${i}.png` : `sub/img-${i}.png`;
      writeFileSync(path.join(input, name), await noisePng(64, 48, i));
      names.push(name);
    }
    writeFileSync(path.join(input, "notes.txt"), "not an image");

    const run = await runCliProcess(
      [
        "batch-predict",
        "--model",
        "shapes-det",
        "--version",
        String(version),
        "--input",
        input,
        "--chunk-size",
        "16",
        "--out",
        path.join(dir, "tasks.json"),
      ],
      env(),
    );
    expect(run.code, run.stderr + run.stdout).toBe(0);
    expect(run.stdout).toMatch(/succeeded/);

    const tasks = JSON.parse(readFileSync(path.join(dir, "tasks.json"), "utf8")) as Array<{
      data: { image: string; mlops_key: string };
      predictions: Array<{
        model_version: string;
        result: Array<{
          type: string;
          original_width: number;
          original_height: number;
          value: Record<string, number & string[]>;
        }>;
      }>;
    }>;
    expect(tasks.map((t) => t.data.image).sort()).toEqual([...names].sort());
    const withBoxes = tasks.filter((t) => t.predictions[0].result.length > 0);
    expect(withBoxes.length).toBeGreaterThan(0);
    const region = withBoxes[0].predictions[0].result[0];
    expect(region).toMatchObject({ type: "rectanglelabels", original_width: 64, original_height: 48 });
    expect(withBoxes[0].predictions[0].model_version).toBe(`shapes-det:${version}`);

    const coco = JSON.parse(readFileSync(path.join(dir, "tasks.coco.json"), "utf8")) as {
      images: Array<{ id: number; file_name: string; width: number; height: number }>;
      categories: Array<{ id: number; name: string }>;
      annotations: Array<{ image_id: number; bbox: number[]; category_id: number }>;
    };
    expect(coco.images).toHaveLength(40);
    expect(coco.categories.map((c) => c.name)).toEqual(["circle", "square", "triangle"]);
    // The same box in both exports: percent of the image in Label Studio, pixels in COCO.
    const image = coco.images.find((i) => i.file_name === withBoxes[0].data.mlops_key);
    const box = coco.annotations.find((a) => a.image_id === image?.id)?.bbox as number[];
    expect(box[0]).toBeCloseTo((region.value.x / 100) * 64, 3);
    expect(box[1]).toBeCloseTo((region.value.y / 100) * 48, 3);
    expect(box[2]).toBeCloseTo((region.value.width / 100) * 64, 3);
    expect(box[3]).toBeCloseTo((region.value.height / 100) * 48, 3);
  }, 90_000);

  it("cancels a dataset batch and resumes it to exactly one prediction per item", async () => {
    await datasetOf(server, "resume-set", await syntheticPngs(300, 3));
    await fixtureVersion(server, "resume-clf", "tiny-classifier");
    // A job holding every CPU keeps the batch queued, so the cancel below cannot race its completion.
    const blocker = await submit(server, {
      command: ["sleep", "300"],
      resources: { cpu: os.availableParallelism(), memoryMiB: 64 },
    });
    await waitForState(server, blocker.id, "running");
    const started = await runCliProcess(
      [
        "batch-predict",
        "--model",
        "resume-clf",
        "--version",
        "1",
        "--dataset",
        "resume-set",
        "--chunk-size",
        "32",
        "--json",
      ],
      env(),
    );
    expect(started.code, started.stderr).toBe(0);
    const id = (JSON.parse(started.stdout) as BatchViewT).id;
    const cancelled = await runCliProcess(["batch", "cancel", id, "--json"], env());
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect((JSON.parse(cancelled.stdout) as BatchViewT).state).toBe("cancelled");
    expect((await server.call("POST", `/api/v1/jobs/${blocker.id}/cancel`)).status).toBe(200);
    await waitForState(server, blocker.id, "cancelled");

    const resumed = await runCliProcess(["batch", "resume", id, "--wait", "--json"], env());
    expect(resumed.code, resumed.stderr + resumed.stdout).toBe(0);
    const done = await getBatch(server, id);
    expect(done).toMatchObject({ state: "succeeded", jobsSubmitted: 2 });
    expect(done.progress.done).toBe(300);
    const counts = await server.platform.store.db
      .selectFrom("batch_prediction_results")
      .select((eb) => [eb.fn.countAll<number>().as("n"), eb.fn.count<number>("position").distinct().as("d")])
      .where("batch_id", "=", id)
      .executeTakeFirstOrThrow();
    expect([Number(counts.n), Number(counts.d)]).toEqual([300, 300]);

    const listed = await runCliProcess(["batch", "list"], env());
    expect(listed.stdout).toContain(id);
    expect(listed.stdout).toContain("300/300");
  }, 90_000);
});
