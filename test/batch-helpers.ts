import { Readable } from "node:stream";
import { encodePng, synthesizeImage } from "../src/demo/synthetic-data.js";
import { systemPrincipal } from "../src/registry/registry-service.js";
import { addVersion, fixtureBytes } from "./serving-fixtures.js";
import type { FixtureModelName } from "./fixtures/models/fixtures.js";
import { waitFor } from "./support/processes.js";
import type { TestServer } from "./support/server.js";

/** Shared by the batch prediction tests: synthetic images, a dataset of them, a model version, polling. */

export interface BatchViewT {
  id: string;
  state: string;
  stateReason: string;
  jobId: string | null;
  total: number;
  chunkCount: number;
  chunkSize: number;
  jobsSubmitted: number;
  modelVersionName: string;
  progress: { done: number; total: number; chunksDone: number; imagesPerSecond: number | null };
}

/** `count` distinct 32x32 PNGs of shapes (demo generator, deterministic). */
export async function syntheticPngs(count: number, seed = 7): Promise<Buffer[]> {
  const spec = { seed, shift: false, imageSize: 32, classes: ["circle", "square", "triangle"] as const };
  const out: Buffer[] = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      out[i] = await encodePng(synthesizeImage(spec, i).pixels, 32);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  return out;
}

/** A classification dataset holding these images (written in-process: setup, not the thing under test). */
export async function datasetOf(server: TestServer, name: string, images: Buffer[]): Promise<string> {
  const principal = systemPrincipal("batch-test");
  const { datasets, items } = server.platform.data;
  const dataset = await datasets.create(principal, {
    name,
    task: "classification",
    classes: ["circle", "square", "triangle"],
  });
  const ref = { dataset: dataset.id };
  const shas: string[] = new Array(images.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < images.length) {
        const i = next++;
        shas[i] = (await datasets.uploadBlob(principal, ref, Readable.from([images[i]]))).sha256;
      }
    }),
  );
  for (let i = 0; i < shas.length; i += 1000) {
    await items.addItems(
      principal,
      ref,
      shas.slice(i, i + 1000).map((sha256, j) => ({ sha256, key: `img-${String(i + j).padStart(5, "0")}` })),
    );
  }
  return dataset.id;
}

export async function fixtureVersion(
  server: TestServer,
  model: string,
  fixture: FixtureModelName,
): Promise<number> {
  return addVersion(server, model, fixtureBytes(fixture));
}

export async function getBatch(server: TestServer, id: string): Promise<BatchViewT> {
  const got = await server.call("GET", `/api/v1/batch-predictions/${id}`);
  if (got.status !== 200) throw new Error(`GET batch: ${got.status} ${JSON.stringify(got.body)}`);
  return got.body as BatchViewT;
}

export function waitForBatch(
  server: TestServer,
  id: string,
  states: string[],
  timeoutMs = 60_000,
): Promise<BatchViewT> {
  return waitFor(
    async () => {
      const b = await getBatch(server, id);
      return states.includes(b.state) ? b : undefined;
    },
    timeoutMs,
    `batch ${id} to reach ${states.join("|")}`,
  );
}
