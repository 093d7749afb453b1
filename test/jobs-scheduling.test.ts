import { afterAll, beforeAll, expect, it } from "vitest";
import { describeEachDatabase } from "./support/databases.js";
import { waitFor } from "./support/processes.js";
import type { TestServer } from "./support/server.js";
import { getJob, type JobView, logsOf, SMALL, startJobServer, submit, waitForState } from "./jobs-helpers.js";

/** Declared 4 x h100: placement, waiting, disjoint devices, gang allocation, refusals at submit. */
describeEachDatabase("jobs on declared GPUs", (kind) => {
  let server: TestServer;

  beforeAll(async () => {
    server = await startJobServer(kind, { MLOPS_GPUS: "h100:4" });
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("refuses at submit what is a mistake on any inventory: an unknown GPU type, a platform variable", async () => {
    const unknown = await server.call("POST", "/api/v1/jobs", {
      command: ["true"],
      resources: { gpus: 1, gpuType: "a100" },
    });
    expect(unknown.status).toBe(400);
    expect(JSON.stringify(unknown.body)).toMatch(/unknown GPU type 'a100'.*h100 x4/);
    const reserved = await server.call("POST", "/api/v1/jobs", {
      command: ["true"],
      env: { CUDA_VISIBLE_DEVICES: "0,1,2,3" },
    });
    expect(reserved.status).toBe(400);
    const list = await server.call("GET", "/api/v1/jobs");
    expect((list.body as { jobs: unknown[] }).jobs).toHaveLength(0);
  });

  it("accepts a job too large for the current inventory and says at once why it waits", async () => {
    const tooMany = await submit(server, { command: ["true"], resources: { ...SMALL, gpus: 5 } });
    expect(tooMany.state).toBe("queued");
    expect(tooMany.stateReason).toBe(
      "cannot run on the current inventory: needs 5 GPUs of one type on one node, the largest node has 4",
    );
    expect((await server.call("POST", `/api/v1/jobs/${tooMany.id}/cancel`)).status).toBe(200);
    expect((await getJob(server, tooMany.id)).job.state).toBe("cancelled");
  });

  it("six 1-GPU jobs: four run on disjoint GPUs, two wait and start as others finish", async () => {
    const jobs: JobView[] = [];
    for (let i = 0; i < 6; i++) {
      jobs.push(
        await submit(server, {
          name: `six-${i}`,
          command: ["sh", "-c", 'echo "cvd=$CUDA_VISIBLE_DEVICES"; sleep 3'],
          resources: { ...SMALL, gpus: 1, gpuType: "h100" },
        }),
      );
    }
    const running = await waitFor(
      async () => {
        const states = await Promise.all(jobs.map((job) => getJob(server, job.id)));
        const active = states.filter((s) => s.job.state === "running");
        return active.length === 4 ? states : undefined;
      },
      15_000,
      "four running jobs",
    );
    const waitingIds = running.filter((s) => s.job.state === "queued").map((s) => s.job.id);
    expect(waitingIds).toHaveLength(2);
    // The pass after the last submit records why they wait.
    const waiting = await waitFor(
      async () => {
        const shown = await Promise.all(waitingIds.map((id) => getJob(server, id)));
        return shown.every((s) => s.job.state === "queued" && /waiting for/.test(s.job.stateReason))
          ? shown
          : undefined;
      },
      5_000,
      "the waiting reasons",
    );
    for (const shown of waiting)
      expect(shown.job.stateReason).toMatch(/waiting for 1 h100 GPU.*0 of 1 h100 GPUs free/);
    const held = running.filter((s) => s.job.state === "running").flatMap((s) => s.replicas[0].gpuUuids);
    expect(new Set(held).size).toBe(4);

    const gpus = (await server.call("GET", "/api/v1/gpus")).body as {
      source: string;
      devices: Array<{ uuid: string; simulated: boolean; heldBy: { jobId: string } | null }>;
    };
    expect(gpus.source).toBe("declared");
    expect(gpus.devices.every((device) => device.simulated && device.heldBy !== null)).toBe(true);

    const finals = await Promise.all(jobs.map((job) => waitForState(server, job.id, "succeeded", 20_000)));
    const firstFour = finals.filter((f) =>
      running.some((r) => r.job.id === f.job.id && r.job.state === "running"),
    );
    const lastTwo = finals.filter((f) => waiting.some((w) => w.job.id === f.job.id));
    const earliestEnd = Math.min(...firstFour.map((f) => Date.parse(f.job.finishedAt!)));
    for (const late of lastTwo) expect(Date.parse(late.job.startedAt!)).toBeGreaterThanOrEqual(earliestEnd);
    // Each job saw exactly its own device, and jobs that overlapped in time saw different ones.
    const seen = await Promise.all(finals.map(async (f) => (await logsOf(server, f.job.id)).trim()));
    for (const [i, line] of seen.entries()) {
      const uuid = finals[i].replicas[0].gpuUuids[0];
      expect(line).toBe(`cvd=${uuid.replace("SIM-h100-", "")}`);
    }
    expect(new Set(seen.filter((_, i) => firstFour.includes(finals[i]))).size).toBe(4);
    const after = (await server.call("GET", "/api/v1/gpus")).body as { devices: Array<{ heldBy: unknown }> };
    expect(after.devices.every((device) => device.heldBy === null)).toBe(true);
  }, 40_000);

  it("a 2-GPU job never gets one GPU: it waits until two are free together", async () => {
    const blockers: JobView[] = [];
    for (let i = 0; i < 3; i++) {
      blockers.push(
        await submit(server, {
          name: `blocker-${i}`,
          command: ["sleep", "2"],
          resources: { ...SMALL, gpus: 1 },
        }),
      );
    }
    await Promise.all(blockers.map((job) => waitForState(server, job.id, "running")));
    const gang = await submit(server, {
      name: "two-gpus",
      command: ["sh", "-c", 'echo "cvd=$CUDA_VISIBLE_DEVICES"'],
      resources: { ...SMALL, gpus: 2 },
    });
    const waiting = await waitFor(
      async () => {
        const shown = await getJob(server, gang.id);
        return shown.job.stateReason !== "submitted" ? shown : undefined;
      },
      5_000,
      "the gang job's waiting reason",
    );
    expect(waiting.job.state).toBe("queued");
    expect(waiting.job.stateReason).toMatch(/1 of 2 GPUs of one type free/);
    expect(waiting.replicas).toHaveLength(0);
    const done = await waitForState(server, gang.id, "succeeded", 20_000);
    expect(done.replicas).toHaveLength(1);
    expect(done.replicas[0].gpuUuids).toHaveLength(2);
    expect((await logsOf(server, gang.id)).trim()).toMatch(/^cvd=\d,\d$/);
    const { events } = (await server.call("GET", `/api/v1/jobs/${gang.id}/events`)).body as {
      events: Array<{ from: string | null; to: string; actor: string }>;
    };
    expect(events.map((e) => e.to)).toEqual(["queued", "scheduled", "running", "succeeded"]);
    expect(events[1].actor).toBe("scheduler");
    const audit = await server.platform.audit.query({ subjectType: "job", subjectId: gang.id });
    expect(audit.events.map((e) => e.action).sort()).toEqual([
      "job.submit",
      "job.transition",
      "job.transition",
      "job.transition",
    ]);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/mlops_jobs\{state="succeeded"\} [1-9]/);
    expect(metrics).toMatch(/mlops_gpus\{state="total"\} 4/);
  }, 30_000);
  it("per-project GPU quota: jobs past it wait, a job larger than it is refused at submit", async () => {
    expect((await server.call("PUT", "/api/v1/projects/default/quotas", { gpus: 1 })).status).toBe(200);
    try {
      const tooBig = await server.call("POST", "/api/v1/jobs", {
        command: ["true"],
        resources: { ...SMALL, gpus: 2 },
      });
      expect(tooBig.status).toBe(400);
      expect(JSON.stringify(tooBig.body)).toMatch(/quota is 1/);
      const first = await submit(server, {
        name: "q1",
        command: ["sleep", "1.5"],
        resources: { ...SMALL, gpus: 1 },
      });
      const second = await submit(server, {
        name: "q2",
        command: ["true"],
        resources: { ...SMALL, gpus: 1 },
      });
      await waitForState(server, first.id, "running");
      const waiting = await waitFor(
        async () => {
          const shown = await getJob(server, second.id);
          return shown.job.stateReason !== "submitted" ? shown : undefined;
        },
        5_000,
        "the quota reason",
      );
      expect(waiting.job.state).toBe("queued");
      expect(waiting.job.stateReason).toMatch(/at its GPU quota: 1 of 1 GPUs in use/);
      const done = await waitForState(server, second.id, "succeeded");
      expect(Date.parse(done.job.startedAt!)).toBeGreaterThanOrEqual(
        Date.parse((await getJob(server, first.id)).job.finishedAt!),
      );
    } finally {
      await server.call("PUT", "/api/v1/projects/default/quotas", {});
    }
  }, 30_000);
});
