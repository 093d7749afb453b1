import { afterAll, beforeAll, expect, it } from "vitest";
import { fixtureBytes, noisePng, postJson } from "../serving-fixtures.js";
import { describeEachDatabase } from "../support/databases.js";
import { startTestServer, type TestServer } from "../support/server.js";
import { createDeployment, registerShapesModel, type Tenant, twoTenants } from "./tenancy-support.js";

/**
 * Deployment names are scoped per project (docs/security.md, tenancy): the same name may exist in two
 * projects; a caller resolves a bare name among the projects it can see, `project/name` (`%2F` in a
 * path) always; a name used only by other projects is answered exactly like a name nobody uses, on the
 * native, OIP and Label Studio routes. And a model a deployment serves cannot be deleted from under it.
 */
describeEachDatabase("tenancy: deployment names and model deletion", (kind) => {
  let server: TestServer;
  let a: Tenant;
  let b: Tenant;
  /** A member (engineer) of both projects. */
  let both: Tenant;
  let image: string;

  const call = (t: Tenant, method: string, path: string, body?: unknown) =>
    server.call(method, path, body, t.token);
  const message = (r: { body: unknown }) => (r.body as { error?: { message?: string } }).error?.message ?? "";
  /** Status and body with the name asked for replaced, to compare "someone else's" with "nobody's". */
  const shape = (r: { status: number; body: unknown }, name: string) => ({
    status: r.status,
    body: JSON.stringify(r.body).split(name).join("<name>"),
  });

  beforeAll(async () => {
    server = await startTestServer(kind);
    ({ a, b } = await twoTenants(server));
    await server.call("POST", "/api/v1/users", { name: "eng-ab", role: "viewer" });
    for (const p of ["alpha", "beta"])
      await server.call("PUT", `/api/v1/projects/${p}/members/eng-ab`, { role: "engineer" });
    const issued = await server.call("POST", "/api/v1/tokens", { name: "t", user: "eng-ab" });
    both = { project: "alpha", token: (issued.body as { token: string }).token };
    image = (await noisePng(24, 20, 1)).toString("base64");
    for (const t of [a, b]) await registerShapesModel(server, t, fixtureBytes("tiny-classifier"));
  }, 120_000);

  afterAll(async () => {
    await server?.stop();
  });

  it("lets two projects use one name, and refuses it twice in one project", async () => {
    expect((await createDeployment(server, b, "shapes")).status).toBe(201);
    // The name is taken in beta only: alpha is neither refused nor told.
    const mine = await createDeployment(server, a, "shapes");
    expect(mine.status, JSON.stringify(mine.body)).toBe(201);
    const again = await createDeployment(server, a, "shapes");
    expect(again.status).toBe(409);
    expect(message(again)).toBe("a deployment named shapes already exists in this project");
    const listed = (await call(a, "GET", "/api/v1/deployments")).body as {
      deployments: Array<{ projectId: string }>;
    };
    expect(listed.deployments).toHaveLength(1);
  });

  it("answers a name used only by another project exactly like a name nobody uses, on every route", async () => {
    expect((await createDeployment(server, b, "beta-only")).status).toBe(201);
    const probes: Array<(name: string) => Promise<{ status: number; body: unknown }>> = [
      (name) => call(a, "GET", `/api/v1/deployments/${name}`),
      (name) => call(a, "GET", `/api/v1/deployments/${name}/history`),
      (name) => call(a, "POST", `/api/v1/deployments/${name}/rollback`, {}),
      (name) => call(a, "DELETE", `/api/v1/deployments/${name}`),
      (name) => postJson(server, `/api/v1/deployments/${name}/predict`, { image }, {}, a.token),
      (name) => call(a, "GET", `/v2/models/${name}`),
      (name) => call(a, "GET", `/v2/models/${name}/ready`),
      (name) => call(a, "GET", `/integrations/label-studio/${name}/health`),
    ];
    for (const probe of probes) {
      for (const [theirs, nobodys] of [
        ["beta-only", "never-made"],
        ["beta%2Fbeta-only", "beta%2Fnever-made"],
        ["beta%2Fshapes", "gamma%2Fshapes"],
      ]) {
        const r = await probe(theirs);
        expect(r.status, JSON.stringify(r.body)).toBe(404);
        const decoded = (s: string) => decodeURIComponent(s);
        expect(shape(r, decoded(theirs))).toEqual(shape(await probe(nobodys), decoded(nobodys)));
      }
    }
    // Beta's deployment is untouched, and alpha may now take the name for itself.
    expect(((await call(b, "GET", "/api/v1/deployments/beta-only")).body as { state: string }).state).toBe(
      "stable",
    );
    expect((await createDeployment(server, a, "beta-only")).status).toBe(201);
  });

  it("resolves a bare name to the caller's own deployment, and asks members of both to qualify it", async () => {
    const own = (await call(a, "GET", "/api/v1/deployments/shapes")).body as {
      projectId: string;
      name: string;
    };
    const theirs = (await call(b, "GET", "/api/v1/deployments/shapes")).body as { projectId: string };
    expect(own.name).toBe("shapes");
    expect(own.projectId).not.toBe(theirs.projectId);

    const ambiguous = await call(both, "GET", "/api/v1/deployments/shapes");
    expect(ambiguous.status).toBe(409);
    expect(message(ambiguous)).toBe(
      "deployment name shapes is used in several of your projects (alpha, beta): address it as <project>/shapes",
    );
    const predicted = await postJson(server, "/api/v1/deployments/shapes/predict", { image }, {}, both.token);
    expect(predicted.status).toBe(409);

    const qualified = (await call(both, "GET", "/api/v1/deployments/beta%2Fshapes")).body as {
      projectId: string;
    };
    expect(qualified.projectId).toBe(theirs.projectId);
    for (const path of ["/v2/models/alpha%2Fshapes", "/integrations/label-studio/alpha%2Fshapes/health"]) {
      const r = await call(both, "GET", path);
      expect(r.status, `${path}: ${JSON.stringify(r.body)}`).toBe(200);
    }
    const answer = await postJson(
      server,
      "/api/v1/deployments/alpha%2Fshapes/predict",
      { image },
      {},
      both.token,
    );
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
  });

  it("refuses to delete a model, or a version, that a deployment serves (409, nothing deleted)", async () => {
    const q = "?project=beta";
    const model = await call(b, "DELETE", `/api/v1/models/shapes-model${q}`);
    expect(model.status).toBe(409);
    expect(message(model)).toMatch(
      /served by deployment (shapes, beta-only|beta-only, shapes); delete the deployment first/,
    );
    const deleteVersion = (version: string) =>
      fetch(`${server.url}/api/2.0/mlflow/model-versions/delete`, {
        method: "DELETE",
        headers: {
          authorization: `Bearer ${b.token}`,
          "content-type": "application/json",
          "x-mlops-project": "beta",
        },
        body: JSON.stringify({ name: "shapes-model", version }),
      });
    const served = await deleteVersion("1");
    // MLflow answers conflicts with HTTP 400; the code says why.
    expect(served.status).toBe(400);
    expect(await served.json()).toMatchObject({ error_code: "INVALID_STATE" });
    // Version 2 serves nothing: it may go.
    expect((await deleteVersion("2")).status).toBe(200);
    expect((await call(b, "GET", `/api/v1/models/shapes-model/versions/1${q}`)).status).toBe(200);
    expect(
      (await postJson(server, "/api/v1/deployments/beta%2Fshapes/predict", { image }, {}, b.token)).status,
    ).toBe(200);

    for (const name of ["shapes", "beta-only"]) {
      expect((await call(b, "DELETE", `/api/v1/deployments/beta%2F${name}`)).status).toBe(204);
    }
    expect((await call(b, "DELETE", `/api/v1/models/shapes-model${q}`)).status).toBe(204);
    // Alpha's model of the same name, still served by alpha's deployments, is untouched.
    expect((await call(a, "GET", "/api/v1/models/shapes-model?project=alpha")).status).toBe(200);
    expect((await call(a, "DELETE", "/api/v1/models/shapes-model?project=alpha")).status).toBe(409);
  });
});
