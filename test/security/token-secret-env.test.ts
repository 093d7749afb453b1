import { createHash } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { getJob, logsOf, SMALL, startJobServer, waitForState } from "../jobs-helpers.js";
import { describeEachDatabase } from "../support/databases.js";
import { waitFor } from "../support/processes.js";
import type { TestServer } from "../support/server.js";

const SECRET = "s3cr3t-value-0123456789";
const SECRET_SHA256 = createHash("sha256").update(SECRET).digest("hex");

/**
 * Write-only job env (docs/security.md): `secretEnv` reaches the workload, never a reply, not even to the
 * submitter; plain `env` stays visible; neither the value nor the job's token shows in its logs.
 */
describeEachDatabase("security: secret job env", (kind) => {
  let server: TestServer;
  let viewer: string;
  let jobId: string;

  beforeAll(async () => {
    server = await startJobServer(kind, { MLOPS_SANDBOX: "none" });
    await server.call("POST", "/api/v1/users", { name: "vic", role: "viewer" });
    viewer = (
      (await server.call("POST", "/api/v1/tokens", { name: "t", user: "vic" })).body as { token: string }
    ).token;
    const submitted = await server.call("POST", "/api/v1/jobs", {
      name: "uses-a-secret",
      // Prints the value (masked in the logs) and fails unless it arrived intact (compared by hash: the
      // command is shown to viewers); prints its token too.
      command: [
        "sh",
        "-c",
        `echo "key=$API_KEY plain=$PLAIN token=$MLOPS_TOKEN"; test "$(printf %s "$API_KEY" | sha256sum | cut -c1-64)" = ${SECRET_SHA256}`,
      ],
      env: { PLAIN: "visible" },
      secretEnv: { API_KEY: SECRET },
      resources: SMALL,
    });
    expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
    expect(JSON.stringify(submitted.body)).not.toContain(SECRET);
    jobId = (submitted.body as { id: string }).id;
  });
  afterAll(async () => server?.stop());

  it("hands the value to the workload and masks it (and the token) in the logs", async () => {
    const ended = await waitForState(server, jobId, ["succeeded", "failed"], 60_000);
    const logs = await logsOf(server, jobId);
    expect(ended.job.state, logs).toBe("succeeded");
    expect(logs).toContain("plain=visible");
    expect(logs).not.toContain(SECRET);
    expect(logs).not.toMatch(/token=mlops_/);
    // An ended job's secret values are not kept.
    await waitFor(
      async () => {
        const rows = await server.platform.store.db
          .selectFrom("job_secret_env")
          .select("name")
          .where("job_id", "=", jobId)
          .execute();
        return rows.length === 0 ? true : undefined;
      },
      10_000,
      "the ended job's secret env to be removed",
    );
  });

  it("never returns the value: job views, lists, events, audit, as submitter or viewer", async () => {
    await waitForState(server, jobId, ["succeeded", "failed"], 60_000);
    for (const token of [server.adminToken, viewer]) {
      const replies = [
        await server.call("GET", `/api/v1/jobs/${jobId}`, undefined, token),
        await server.call("GET", "/api/v1/jobs", undefined, token),
        await server.call("GET", `/api/v1/jobs/${jobId}/events`, undefined, token),
        await server.call("GET", `/api/v1/jobs/${jobId}/logs`, undefined, token),
      ];
      for (const reply of replies) {
        expect(reply.status, JSON.stringify(reply.body)).toBe(200);
        expect(JSON.stringify(reply.body)).not.toContain(SECRET);
      }
    }
    const audit = await server.call("GET", "/api/v1/audit");
    expect(JSON.stringify(audit.body)).not.toContain(SECRET);
    // The viewer still sees the plain env: that is what it is for.
    expect((await getJob(server, jobId)).job).toMatchObject({ env: { PLAIN: "visible" } });
  });

  it("refuses bad secret env with 400 and creates no job", async () => {
    const before = ((await server.call("GET", "/api/v1/jobs")).body as { jobs: unknown[] }).jobs.length;
    for (const bad of [
      { secretEnv: { MLOPS_TOKEN: "x" } },
      { secretEnv: { "BAD-NAME": "x" } },
      { env: { SAME: "a" }, secretEnv: { SAME: "b" } },
    ]) {
      const reply = await server.call("POST", "/api/v1/jobs", {
        command: ["true"],
        resources: SMALL,
        ...bad,
      });
      expect(reply.status, JSON.stringify(bad)).toBe(400);
    }
    expect(((await server.call("GET", "/api/v1/jobs")).body as { jobs: unknown[] }).jobs.length).toBe(before);
  });
});
