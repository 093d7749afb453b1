import { readFileSync } from "node:fs";
import path from "node:path";
import { expect } from "vitest";
import { FIXTURE_MODELS_DIR } from "./fixtures/models/fixtures.js";
import type { TestServer } from "./support/server.js";

/** Helpers shared by the registry scenario tests. */
export async function upload(server: TestServer, bytes: Buffer, token = server.adminToken): Promise<string> {
  const response = await fetch(`${server.url}/api/v1/models/uploads`, {
    method: "POST",
    headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream" },
    body: bytes,
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { sha256: string }).sha256;
}

export function fixtureFiles(): { onnx: Buffer; json: Buffer } {
  const dir = path.join(FIXTURE_MODELS_DIR, "tiny-classifier");
  return {
    onnx: readFileSync(path.join(dir, "model.onnx")),
    json: readFileSync(path.join(dir, "model.json")),
  };
}

/** Uploads the tiny classifier and creates a version of `name`; returns its number. */
export async function createUploadedVersion(server: TestServer, name: string): Promise<number> {
  const { onnx, json } = fixtureFiles();
  const files = [
    { path: "model.onnx", sha256: await upload(server, onnx) },
    { path: "model.json", sha256: await upload(server, json) },
  ];
  const created = await server.call("POST", `/api/v1/models/${encodeURIComponent(name)}/versions`, { files });
  expect(created.status, JSON.stringify(created.body)).toBe(201);
  return (created.body as { version: number }).version;
}

export async function tokenFor(server: TestServer, user: string, role: string): Promise<string> {
  await server.call("POST", "/api/v1/users", { name: user, role });
  const issued = await server.call("POST", "/api/v1/tokens", { name: "t", user });
  return (issued.body as { token: string }).token;
}
