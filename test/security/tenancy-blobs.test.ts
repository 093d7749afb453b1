import { createHash, randomBytes } from "node:crypto";
import { afterAll, beforeAll, expect, it } from "vitest";
import { fixtureBytes } from "../serving-fixtures.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { postBytes, type Tenant, twoTenants, uploadTo, withoutDigest } from "./tenancy-support.js";

/**
 * Blob references are project-scoped (docs/security.md, tenancy). The attacker (engineer of beta) knows
 * the sha256 of alpha's files, as anyone may who saw a version's metadata, and tries to use them as its
 * own: as model-version files, a job's code archive, a batch's input archive. Each must be answered
 * exactly as for a blob that was never uploaded, and change nothing.
 */
describeEachDatabase("tenancy: blob references", (kind) => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;
  let secretOnnx: string;
  let secretJson: string;
  let secretCode: string;
  let secretRunArtifact: string;
  const nobodys = createHash("sha256").update(randomBytes(32)).digest("hex");

  const as = (t: Tenant) => (method: string, path: string, body?: unknown) =>
    server.call(method, path, body, t.token);

  beforeAll(async () => {
    server = await startTestServer(kind);
    ({ a, b } = await twoTenants(server));
    const model = fixtureBytes("tiny-classifier");
    secretOnnx = await uploadTo(server, "models", a.project, model.onnx, a.token);
    secretJson = await uploadTo(server, "models", a.project, model.json, a.token);
    secretCode = await uploadTo(server, "jobs", a.project, randomBytes(256), a.token);
    const created = await as(a)("POST", "/api/v1/models?project=alpha", { name: "secret" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const version = await as(a)("POST", "/api/v1/models/secret/versions?project=alpha", {
      files: [
        { path: "model.onnx", sha256: secretOnnx },
        { path: "model.json", sha256: secretJson },
      ],
    });
    expect(version.status, JSON.stringify(version.body)).toBe(201);
    // A file alpha produced in a run (not uploaded through an upload route).
    const exp = await as(a)("POST", "/api/v1/experiments", { name: "e", project: a.project });
    expect(exp.status, JSON.stringify(exp.body)).toBe(201);
    const run = await as(a)("POST", "/api/v1/runs", { experimentId: (exp.body as { id: string }).id });
    expect(run.status, JSON.stringify(run.body)).toBe(201);
    const runId = (run.body as { id: string }).id;
    const put = await postBytes(
      server,
      `/api/v1/runs/${runId}/artifacts/notes.txt`,
      randomBytes(64),
      a.token,
      "PUT",
    );
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    secretRunArtifact = put.body.sha256 as string;

    expect((await as(b)("POST", "/api/v1/models?project=beta", { name: "thief" })).status).toBe(201);
  }, 60_000);

  afterAll(async () => {
    await server?.stop();
  });

  const createVersionWith = (sha: string) =>
    as(b)("POST", "/api/v1/models/thief/versions?project=beta", {
      files: [
        { path: "model.onnx", sha256: sha },
        { path: "model.json", sha256: secretJson },
      ],
    });

  it("refuses another project's blobs as model-version files, exactly as blobs nobody uploaded", async () => {
    for (const stolen of [secretOnnx, secretRunArtifact]) {
      const theirs = await createVersionWith(stolen);
      const missing = await createVersionWith(nobodys);
      expect(theirs.status).toBe(404);
      expect(JSON.stringify(theirs.body)).toMatch(/model\.onnx: blob [0-9a-f]{64} was not uploaded/);
      expect(withoutDigest(theirs, stolen)).toEqual(withoutDigest(missing, nobodys));
    }
    // Nothing was created, and the thief cannot download alpha's files through a version of its own.
    const versions = await as(b)("GET", "/api/v1/models/thief/versions?project=beta");
    expect(versions.body).toEqual({ versions: [] });
    expect(
      (await as(b)("GET", "/api/v1/models/secret/versions/1/files/model.onnx?project=alpha")).status,
    ).toBe(403);
  });

  it("accepts the same content once the project uploads it itself, and its own run artifacts", async () => {
    const model = fixtureBytes("tiny-classifier");
    // Same bytes, same sha256 as alpha's: owning content you have is fine (the store deduplicates).
    const own = await uploadTo(server, "models", b.project, model.onnx, b.token);
    expect(own).toBe(secretOnnx);
    expect((await createVersionWith(own)).status).toBe(404); // model.json is still alpha's only
    const ownJson = await uploadTo(server, "models", b.project, model.json, b.token);
    // A file beta produced in one of its runs is beta's too.
    const exp = await as(b)("POST", "/api/v1/experiments", { name: "e", project: b.project });
    const run = await as(b)("POST", "/api/v1/runs", { experimentId: (exp.body as { id: string }).id });
    const runId = (run.body as { id: string }).id;
    const put = await postBytes(
      server,
      `/api/v1/runs/${runId}/artifacts/extra.bin`,
      randomBytes(64),
      b.token,
      "PUT",
    );
    expect(put.status, JSON.stringify(put.body)).toBe(201);
    const ok = await as(b)("POST", "/api/v1/models/thief/versions?project=beta", {
      files: [
        { path: "model.onnx", sha256: own },
        { path: "model.json", sha256: ownJson },
        { path: "extra.bin", sha256: put.body.sha256 },
      ],
    });
    expect(ok.status, JSON.stringify(ok.body)).toBe(201);
  });

  it("refuses another project's code archive for a job, exactly as a missing one", async () => {
    const submit = (codeDigest: string) =>
      as(b)("POST", "/api/v1/jobs", {
        project: b.project,
        name: "steal",
        command: ["python", "-c", "print(1)"],
        resources: { cpu: 0.1, memoryMiB: 64, gpus: 0 },
        codeDigest,
      });
    const theirs = await submit(secretCode);
    const missing = await submit(nobodys);
    expect(theirs.status).toBe(404);
    expect(JSON.stringify(theirs.body)).toMatch(/no code archive/);
    expect(withoutDigest(theirs, secretCode)).toEqual(withoutDigest(missing, nobodys));
    const jobs = await as(b)("GET", `/api/v1/jobs?project=${b.project}`);
    expect((jobs.body as { jobs: unknown[] }).jobs).toEqual([]);
    // Its own archive is accepted.
    const own = await uploadTo(server, "jobs", b.project, randomBytes(128), b.token);
    const accepted = await submit(own);
    expect(accepted.status, JSON.stringify(accepted.body)).toBe(201);
    await as(b)("POST", `/api/v1/jobs/${(accepted.body as { id: string }).id}/cancel`);
  });

  it("refuses another project's input archive for a batch prediction, exactly as a missing one", async () => {
    const create = (inputDigest: string) =>
      as(b)("POST", "/api/v1/batch-predictions", {
        project: b.project,
        model: "thief",
        version: 1,
        inputDigest,
        files: ["a.png"],
      });
    const theirs = await create(secretCode);
    const missing = await create(nobodys);
    expect(theirs.status).toBe(404);
    expect(JSON.stringify(theirs.body)).toMatch(/no uploaded archive/);
    expect(withoutDigest(theirs, secretCode)).toEqual(withoutDigest(missing, nobodys));
    const list = await as(b)("GET", `/api/v1/batch-predictions?project=${b.project}`);
    expect(JSON.stringify(list.body)).not.toContain(secretCode);
  });

  it("does not tell a dataset upload whether the content exists in another project", async () => {
    const image = randomBytes(128);
    for (const t of [a, b]) {
      const made = await as(t)("POST", "/api/v1/datasets", {
        name: "imgs",
        task: "classification",
        project: t.project,
      });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
    }
    const upload = (t: Tenant) =>
      postBytes(server, `/api/v1/datasets/imgs/blobs?project=${t.project}`, image, t.token);
    expect((await upload(a)).body).toMatchObject({ created: true });
    // Already in the store (alpha's), but new to beta's dataset: beta learns nothing about alpha.
    expect((await upload(b)).body).toMatchObject({ created: true });
    expect((await upload(b)).body).toMatchObject({ created: false });
  });

  it("still lets the owner use its blobs", async () => {
    const again = await as(a)("POST", "/api/v1/models/secret/versions?project=alpha", {
      files: [
        { path: "model.onnx", sha256: secretOnnx },
        { path: "model.json", sha256: secretJson },
      ],
    });
    expect(again.status, JSON.stringify(again.body)).toBe(201);
  });
});
