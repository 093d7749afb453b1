import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BatchViewT, datasetOf, fixtureVersion, syntheticPngs, waitForBatch } from "./batch-helpers.js";
import { waitFor } from "./support/processes.js";
import { startTestServer, type TestServer } from "./support/server.js";
import { type SlurmCluster, startSlurmCluster } from "./support/slurm.js";

/**
 * Batch prediction with MLOPS_RUNTIME=slurm: the platform's worker (`mlops batch worker`) runs as a Slurm
 * job on a real private cluster (test/support/slurm.ts) and reports its chunks back over the API.
 */
let cluster: SlurmCluster;
let server: TestServer;

beforeAll(async () => {
  cluster = await startSlurmCluster({ gpus: 4 });
  server = await startTestServer("sqlite", {
    MLOPS_BACKGROUND_LOOPS: "true",
    MLOPS_LEASE_TTL_MS: "3000",
    MLOPS_RUNTIME: "slurm",
    MLOPS_SLURM_CONF: cluster.conf,
    MLOPS_SLURM_WORK_DIR: cluster.workDir,
    MLOPS_SLURM_PARTITION: cluster.partition,
    MLOPS_CLUSTER_PYTHON: "/usr/bin/python3",
  });
}, 60_000);

afterAll(async () => {
  await server?.stop();
  await cluster?.stop();
});

describe("batch prediction on Slurm", () => {
  it("completes: every image predicted once, by a worker that ran as a Slurm job", async () => {
    const images = await syntheticPngs(64);
    await datasetOf(server, "shapes", images);
    const version = await fixtureVersion(server, "shapes-clf", "tiny-classifier");
    const created = await server.call("POST", "/api/v1/batch-predictions", {
      model: "shapes-clf",
      version,
      dataset: "shapes",
      chunkSize: 32,
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const batch = created.body as BatchViewT;
    const done = await waitForBatch(server, batch.id, ["succeeded", "failed", "cancelled"], 90_000);
    expect(done.state, done.stateReason).toBe("succeeded");
    expect(done.progress).toMatchObject({ done: 64, total: 64, chunksDone: 2 });
    // The batch is done once its chunks are in; the worker's job ends right after.
    const job = await waitFor(
      async () => {
        const shown = (await server.call("GET", `/api/v1/jobs/${batch.jobId}`)).body as {
          job: { state: string };
          replicas: Array<{ exitCode: number | null }>;
        };
        return shown.job.state === "succeeded" ? shown : undefined;
      },
      30_000,
      "the worker job to succeed",
    );
    expect(job.replicas[0].exitCode).toBe(0);
    // The worker ran under the rank wrapper on the Slurm node: its exit record is on the shared dir.
    const shown = await cluster.cli("scontrol", ["show", "job", "-o"]);
    expect(shown).toMatch(new RegExp(`JobName=mlops-${batch.jobId}\\.a0 .*JobState=COMPLETED`));
  }, 120_000);
});
