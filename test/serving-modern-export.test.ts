import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FIXTURE_MODELS_DIR } from "./fixtures/models/fixtures.js";
import { addVersion, fixtureBytes, makeProduction, postJson } from "./serving-fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";

/**
 * What most users' PyTorch makes today: the example's model trained on a GPU and exported by PyTorch 2.11's
 * default (dynamo-based) exporter, opset 18 and IR 10 rather than the opset 13 that Debian's PyTorch 1.13
 * writes here. It registers, deploys and answers with the logits PyTorch computed for the same input.
 */
describe("serving a model exported by a current PyTorch", () => {
  let server: TestServer;
  const expected = JSON.parse(
    readFileSync(path.join(FIXTURE_MODELS_DIR, "torch-2.11-classifier", "expected.json"), "utf8"),
  ) as { logits: number[][] };

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    const version = await addVersion(server, "modern", fixtureBytes("torch-2.11-classifier"));
    await makeProduction(server, "modern", version);
    const created = await server.call("POST", "/api/v1/deployments", { name: "modern", model: "modern" });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
  });

  afterAll(async () => {
    await server?.stop();
  });

  it("answers the logits PyTorch computed on the GPU, for a batch of two", async () => {
    const data = Array.from({ length: 2 * 3 * 32 * 32 }, (_, i) => Math.fround(0.5 * Math.sin(i)));
    const response = await postJson(server, "/v2/models/modern/infer", {
      inputs: [{ name: "input", shape: [2, 3, 32, 32], datatype: "FP32", data }],
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const [output] = (response.body as { outputs: Array<{ name: string; shape: number[]; data: number[] }> })
      .outputs;
    expect(output).toMatchObject({ name: "logits", shape: [2, 3] });
    const want = expected.logits.flat();
    expect(output.data).toHaveLength(want.length);
    for (let i = 0; i < want.length; i++) expect(Math.abs(output.data[i] - want[i])).toBeLessThan(1e-4);
  });
});
