import { describe, expect, it } from "vitest";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { LogChunk, Runtime } from "../runtime/runtime.js";
import type { Job } from "./job.js";
import { followJobLogs } from "./job-logs.js";
import type { JobReplica, JobStore } from "./job-store.js";

function replica(index: number, state: JobReplica["state"]): JobReplica {
  return {
    replicaId: `r${index}`,
    jobId: "j",
    attempt: 1,
    replicaIndex: index,
    nodeId: "local",
    cpu: 1,
    memoryMiB: 64,
    gpuUuids: [],
    state,
    pid: null,
    end: null,
    exitCode: null,
    signal: null,
    message: null,
    startedAt: null,
    endedAt: null,
    stdoutSha256: null,
    stderrSha256: null,
    endpoints: null,
  };
}

describe("following a gang's logs", () => {
  it("waits until every rank is marked started: a rank marked a moment later is not left out", async () => {
    // What the store shows while the executor marks the ranks one by one, then after the job ran.
    const views: Array<{ state: string; replicas: JobReplica[] }> = [
      { state: "scheduled", replicas: [replica(0, "running"), replica(1, "placed")] },
      { state: "running", replicas: [replica(0, "running"), replica(1, "running")] },
      { state: "succeeded", replicas: [replica(0, "ended"), replica(1, "ended")] },
    ];
    let poll = 0;
    let current = views[0];
    const store = {
      getJob: async () => {
        current = views[Math.min(poll++, views.length - 1)];
        return { id: "j", state: current.state, attempt: 1 } as unknown as Job;
      },
      replicas: async () => current.replicas,
    } as unknown as JobStore;
    const runtime = {
      async *logs(replicaId: string): AsyncIterable<LogChunk> {
        yield { stream: "stdout", data: Buffer.from(`hello from ${replicaId}\n`) };
      },
    } as unknown as Runtime;
    let text = "";
    for await (const event of followJobLogs(
      { store, runtime, artifacts: {} as ArtifactStore, pollMs: 1 },
      "j",
      { replicaIndex: "all" },
    )) {
      if (event.type === "log") text += event.data.toString();
    }
    expect(text).toContain("[rank 0] hello from r0\n");
    expect(text).toContain("[rank 1] hello from r1\n");
  });
});
