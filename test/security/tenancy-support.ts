import { expect } from "vitest";
import type { TestServer } from "../support/server.js";

/** Two projects, each with its own engineer, for the tenancy attack tests (docs/security.md, tenancy). */
export interface Tenant {
  project: string;
  token: string;
}

export async function twoTenants(server: TestServer): Promise<{ a: Tenant; b: Tenant }> {
  const make = async (project: string, user: string): Promise<Tenant> => {
    expect((await server.call("POST", "/api/v1/projects", { name: project })).status).toBe(201);
    // A global viewer: everything it may change, it may change only through its project membership.
    expect((await server.call("POST", "/api/v1/users", { name: user, role: "viewer" })).status).toBe(201);
    const member = await server.call("PUT", `/api/v1/projects/${project}/members/${user}`, {
      role: "engineer",
    });
    expect(member.status, JSON.stringify(member.body)).toBe(200);
    const issued = await server.call("POST", "/api/v1/tokens", { name: "t", user });
    expect(issued.status).toBe(201);
    return { project, token: (issued.body as { token: string }).token };
  };
  return { a: await make("alpha", "eng-a"), b: await make("beta", "eng-b") };
}

/** POSTs raw bytes (an upload route) and returns status and parsed body. */
export async function postBytes(
  server: TestServer,
  urlPath: string,
  bytes: Uint8Array,
  token: string,
  method = "POST",
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(server.url + urlPath, {
    method,
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function uploadTo(
  server: TestServer,
  route: "models" | "jobs",
  project: string,
  bytes: Uint8Array,
  token: string,
): Promise<string> {
  const path = route === "models" ? "/api/v1/models/uploads" : "/api/v1/jobs/code";
  const r = await postBytes(server, `${path}?project=${project}`, bytes, token);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body.sha256 as string;
}

/** The response with one digest replaced by a placeholder: to compare "someone else's" with "nobody's". */
export function withoutDigest(response: { status: number; body: unknown }, digest: string) {
  return { status: response.status, body: JSON.stringify(response.body).split(digest).join("<sha256>") };
}

/** Registers `shapes-model` versions 1 and 2 (the tiny classifier, uploaded by the tenant itself). */
export async function registerShapesModel(
  server: TestServer,
  t: Tenant,
  model: { onnx: Buffer; json: Buffer },
) {
  const files = [
    { path: "model.onnx", sha256: await uploadTo(server, "models", t.project, model.onnx, t.token) },
    { path: "model.json", sha256: await uploadTo(server, "models", t.project, model.json, t.token) },
  ];
  const q = `?project=${t.project}`;
  const created = await server.call("POST", `/api/v1/models${q}`, { name: "shapes-model" }, t.token);
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  for (let v = 0; v < 2; v++) {
    const version = await server.call("POST", `/api/v1/models/shapes-model/versions${q}`, { files }, t.token);
    expect(version.status, JSON.stringify(version.body)).toBe(201);
  }
}

/** A dev deployment of `shapes-model` version 1 in the tenant's project. */
export function createDeployment(server: TestServer, t: Tenant, name: string) {
  return server.call(
    "POST",
    "/api/v1/deployments",
    { name, project: t.project, model: "shapes-model", version: 1, environment: "dev" },
    t.token,
  );
}
