import { afterAll, beforeAll, expect, it } from "vitest";
import { createUploadedVersion, tokenFor } from "./registry-helpers.js";
import { reportSnapshot } from "./snapshot-helpers.js";
import { describeEachDatabase } from "./support/databases.js";
import { startTestServer, type TestServer } from "./support/server.js";

type Version = { version: number; stage: string; files: Array<{ path: string }>; aliases: string[] };
type Result = {
  version: Version;
  transition: { evidence: string | null };
  archived: Array<{ version: number }>;
};

describeEachDatabase("registry native API", (kind) => {
  let server: TestServer;
  let labeler: string;
  let snap: string;
  const M = "/api/v1/models/cls";

  beforeAll(async () => {
    server = await startTestServer(kind);
    labeler = await tokenFor(server, "lara", "labeler");
    snap = await reportSnapshot(server);
    expect((await server.call("POST", "/api/v1/models", { name: "cls", description: "shapes" })).status).toBe(
      201,
    );
  });
  afterAll(async () => server?.stop());

  it("creates versions from uploaded files, validating model.json", async () => {
    expect(await createUploadedVersion(server, "cls")).toBe(1);
    const v = (await server.call("GET", `${M}/versions/1`)).body as Version;
    expect(v.stage).toBe("experiment");
    expect(v.files.map((f) => f.path)).toEqual(["model.json", "model.onnx"]);
    const bad = await server.call("POST", `${M}/versions`, {
      files: [{ path: "model.onnx", sha256: "a".repeat(64) }],
    });
    // A blob nobody uploaded (or another project's: the same answer, docs/security.md) is not found.
    expect(bad.status).toBe(404);
    expect((await server.call("GET", "/api/v1/models/nope")).status).toBe(404);
  });

  it("gates production: no gate, no record, failed bound, then a passing record", async () => {
    expect(
      (await server.call("POST", `${M}/versions/1/transition`, { stage: "staging", reason: "candidate" }))
        .status,
    ).toBe(200);
    const noGate = await server.call("POST", `${M}/versions/1/promote`, { reason: "ship" });
    expect(noGate.status).toBe(422);
    expect(JSON.stringify(noGate.body)).toContain("no validation gate");

    // Reported records count under `require: "any"` (measured validation: registry-evaluate.test.ts).
    const gate = { metric: "accuracy", direction: "higher", min: 0.9, maxRegression: 0.01, require: "any" };
    expect((await server.call("PUT", `${M}/gate`, gate)).status).toBe(200);
    const noRecord = await server.call("POST", `${M}/versions/1/promote`, { reason: "ship" });
    expect(noRecord.status).toBe(422);
    expect(JSON.stringify(noRecord.body)).toContain("no validation record");

    const low = await server.call("POST", `${M}/versions/1/validations`, {
      snapshot: snap,
      metrics: { accuracy: 0.85 },
    });
    expect(low.body).toMatchObject({ passed: false });
    const refused = await server.call("POST", `${M}/versions/1/promote`, { reason: "ship" });
    expect(refused.status).toBe(422);
    expect((refused.body as { error: { message: string } }).error.message).toContain(
      "accuracy 0.85 is below the minimum 0.9 by 0.05",
    );

    const good = await server.call("POST", `${M}/versions/1/validations`, {
      snapshot: snap,
      metrics: { accuracy: 0.93 },
    });
    expect(good.body).toMatchObject({
      passed: true,
      decision: { notes: expect.arrayContaining([expect.stringContaining("absolute bounds only")]) },
    });
    const promoted = await server.call("POST", `${M}/versions/1/promote`, { reason: "beats the bar" });
    expect(promoted.status).toBe(200);
    expect((promoted.body as Result).transition.evidence).toBe((good.body as { id: string }).id);
  });

  it("refuses a regression vs production on the same snapshot, then archives the old production", async () => {
    expect(await createUploadedVersion(server, "cls")).toBe(2);
    await server.call("POST", `${M}/versions/2/transition`, { stage: "staging", reason: "retrained" });
    await server.call("POST", `${M}/versions/2/validations`, {
      snapshot: snap,
      metrics: { accuracy: 0.91 },
    });
    const refused = await server.call("POST", `${M}/versions/2/promote`, { reason: "ship" });
    expect(refused.status).toBe(422);
    expect(JSON.stringify(refused.body)).toMatch(/regresses vs production version 1 \(0.93\) by 0.02/);

    await server.call("POST", `${M}/versions/2/validations`, {
      snapshot: snap,
      metrics: { accuracy: 0.925 },
    });
    const standing = await server.call("GET", `${M}/versions/2/standing`);
    expect(standing.body).toMatchObject({ passed: true });
    const promoted = (await server.call("POST", `${M}/versions/2/promote`, { reason: "within tolerance" }))
      .body as Result;
    expect(promoted.archived.map((a) => a.version)).toEqual([1]);
    const versions = (await server.call("GET", `${M}/versions`)).body as { versions: Version[] };
    expect(versions.versions.map((v) => [v.version, v.stage])).toEqual([
      [2, "production"],
      [1, "archived"],
    ]);
  });

  it("keeps one production version under concurrent promotions", async () => {
    for (const n of [3, 4]) {
      expect(await createUploadedVersion(server, "cls")).toBe(n);
      await server.call("POST", `${M}/versions/${n}/transition`, { stage: "staging", reason: "race" });
      await server.call("POST", `${M}/versions/${n}/validations`, {
        snapshot: snap,
        metrics: { accuracy: 0.95 },
      });
    }
    const results = await Promise.all(
      [3, 4].map((n) => server.call("POST", `${M}/versions/${n}/promote`, { reason: "race" })),
    );
    expect(results.some((r) => r.status === 200)).toBe(true);
    for (const r of results) expect([200, 409, 422]).toContain(r.status);
    const versions = (await server.call("GET", `${M}/versions`)).body as { versions: Version[] };
    expect(versions.versions.filter((v) => v.stage === "production")).toHaveLength(1);
  });

  it("sets, reads and deletes aliases", async () => {
    expect((await server.call("PUT", `${M}/aliases/champion`, { version: 2 })).status).toBe(200);
    expect(((await server.call("GET", `${M}/aliases/champion`)).body as Version).version).toBe(2);
    expect(((await server.call("GET", M)).body as { aliases: Record<string, number> }).aliases).toEqual({
      champion: 2,
    });
    expect((await server.call("PUT", `${M}/aliases/latest`, { version: 2 })).status).toBe(400);
    expect((await server.call("DELETE", `${M}/aliases/champion`)).status).toBe(204);
    expect((await server.call("GET", `${M}/aliases/champion`)).status).toBe(404);
  });

  it("records who, when, why and evidence in the history, and in the audit log", async () => {
    const history = (await server.call("GET", `${M}/history`)).body as {
      transitions: Array<{
        version: number;
        fromStage: string;
        toStage: string;
        actor: string;
        reason: string;
        evidence: string | null;
        at: number;
      }>;
    };
    const first = history.transitions.find((t) => t.version === 1 && t.toStage === "production");
    expect(first).toMatchObject({ fromStage: "staging", actor: "admin", reason: "beats the bar" });
    expect(first?.evidence).toMatch(/^[0-9a-f-]{36}$/);
    expect(history.transitions.find((t) => t.version === 1 && t.toStage === "archived")?.reason).toContain(
      "replaced in production by version 2",
    );
    const audit = (await server.call("GET", "/api/v1/audit?action=model.version.transitioned")).body as {
      events: unknown[];
    };
    expect(audit.events.length).toBeGreaterThanOrEqual(history.transitions.length);
  });

  it("refuses a labeler's promotion with 403 and changes nothing", async () => {
    await server.call("POST", `${M}/versions/1/transition`, {
      stage: "staging",
      reason: "rollback candidate",
    });
    const before = (await server.call("GET", `${M}/history`)).body as { transitions: unknown[] };
    const denied = await server.call("POST", `${M}/versions/1/promote`, { reason: "mine" }, labeler);
    expect(denied.status).toBe(403);
    expect(
      (await server.call("POST", `${M}/versions/1/transition`, { stage: "archived", reason: "x" }, labeler))
        .status,
    ).toBe(403);
    const after = (await server.call("GET", `${M}/history`)).body as { transitions: unknown[] };
    expect(after.transitions).toHaveLength(before.transitions.length);
    expect(((await server.call("GET", `${M}/versions/1`)).body as Version).stage).toBe("staging");
  });
});
