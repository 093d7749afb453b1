import * as ort from "onnxruntime-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixtureModel } from "./fixtures/models/fixtures.js";
import { addVersion, fixtureBytes, postJson } from "./serving-fixtures.js";
import { startTestServer, type TestServer } from "./support/server.js";

/**
 * The Open Inference Protocol's binary tensor data extension over real HTTP: requests built by hand as
 * a client library builds them (JSON head, `Inference-Header-Content-Length`, raw little-endian float32
 * bytes), binary responses parsed back, and the size checks. The database plays no part: SQLite only.
 */
const SHAPE = [2, 3, 32, 32];

function values(seed: number, n: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648) * 2 - 1;
  }
  return out;
}

function binaryRequest(head: unknown, tensor: Uint8Array): { body: Buffer; headerLength: number } {
  const json = Buffer.from(JSON.stringify(head));
  return { body: Buffer.concat([json, tensor]), headerLength: json.length };
}

async function post(
  server: TestServer,
  path: string,
  body: Buffer,
  headers: Record<string, string>,
): Promise<Response> {
  return fetch(server.url + path, {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, ...headers },
    body,
  });
}

/** Splits a binary response into its JSON head and the bytes after it. */
async function readBinary(response: Response): Promise<{ head: Record<string, unknown>; rest: Buffer }> {
  const n = Number(response.headers.get("inference-header-content-length"));
  const bytes = Buffer.from(await response.arrayBuffer());
  return { head: JSON.parse(bytes.subarray(0, n).toString("utf8")), rest: bytes.subarray(n) };
}

describe("serving: OIP binary tensor data extension", () => {
  let server: TestServer;
  let direct: ort.InferenceSession;
  const data = values(11, 2 * 3 * 32 * 32);
  const raw = new Uint8Array(data.buffer);

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    const v = await addVersion(server, "bin", fixtureBytes("tiny-classifier"));
    const created = await server.call("POST", "/api/v1/deployments", {
      name: "bin",
      model: "bin",
      version: v,
      environment: "dev",
    });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    direct = await ort.InferenceSession.create(fixtureModel("tiny-classifier").modelPath);
  });

  afterAll(async () => {
    await direct?.release();
    await server?.stop();
  });

  it("announces the extension in the server metadata", async () => {
    const meta = await server.call("GET", "/v2", undefined, null);
    expect(meta.body).toMatchObject({ extensions: ["binary_tensor_data"] });
    // The infer routes skip schema validation, not their documentation.
    const openapi = (await server.call("GET", "/api/v1/openapi.json", undefined, null)).body as {
      paths: Record<string, { post?: { requestBody?: unknown; description?: string } }>;
    };
    const infer = openapi.paths["/v2/models/{name}/infer"]?.post;
    expect(infer?.requestBody).toBeDefined();
    expect(infer?.description).toMatch(/Inference-Header-Content-Length/);
    // The prediction log's queue is visible to whoever scrapes the server.
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^mlops_prediction_log_pending \d+$/m);
    expect(metrics).toMatch(/^mlops_prediction_log_dropped_total 0$/m);
  });

  it("answers a hand-built binary request with the JSON request's numbers (and onnxruntime's)", async () => {
    const expected = (await direct.run({ input: new ort.Tensor("float32", data, SHAPE) })).logits
      .data as Float32Array;
    const json = await postJson(server, "/v2/models/bin/infer", {
      inputs: [{ name: "input", shape: SHAPE, datatype: "FP32", data: Array.from(data) }],
    });
    expect(json.status, JSON.stringify(json.body)).toBe(200);
    const jsonLogits = (json.body as { outputs: Array<{ data: number[] }> }).outputs[0].data;

    const { body, headerLength } = binaryRequest(
      {
        id: "bin-1",
        inputs: [
          { name: "input", shape: SHAPE, datatype: "FP32", parameters: { binary_data_size: raw.length } },
        ],
      },
      raw,
    );
    for (const contentType of ["application/octet-stream", "application/json"]) {
      const res = await post(server, "/v2/models/bin/infer", body, {
        "content-type": contentType,
        "inference-header-content-length": String(headerLength),
      });
      expect(res.status, contentType).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      const answer = (await res.json()) as {
        id: string;
        parameters: { prediction_id: string };
        outputs: Array<{ name: string; shape: number[]; data: number[] }>;
      };
      expect(answer.id).toBe("bin-1");
      expect(answer.outputs[0]).toMatchObject({ name: "logits", shape: [2, 3] });
      expect(answer.outputs[0].data).toEqual(jsonLogits);
      expect(answer.outputs[0].data.map(Math.fround)).toEqual(Array.from(expected));
    }

    // The log identifies the input by its values, however they travelled.
    const ids = [json.body as { parameters: { prediction_id: string } }];
    await server.platform.serving.predictionLog.flush();
    const fromJson = await server.platform.serving.predictions.find(ids[0].parameters.prediction_id);
    const res = await post(server, "/v2/models/bin/infer", body, {
      "content-type": "application/octet-stream",
      "inference-header-content-length": String(headerLength),
    });
    const fromBinaryId = ((await res.json()) as { parameters: { prediction_id: string } }).parameters
      .prediction_id;
    await server.platform.serving.predictionLog.flush();
    const fromBinary = await server.platform.serving.predictions.find(fromBinaryId);
    expect(fromBinary?.inputSha256).toBe(fromJson?.inputSha256);
    expect(fromBinary).toMatchObject({ outcome: "success", endpoint: "oip" });
  });

  it("returns outputs as binary when asked, per output or for the whole request", async () => {
    const expected = (await direct.run({ input: new ort.Tensor("float32", data, SHAPE) })).logits
      .data as Float32Array;
    const input = {
      name: "input",
      shape: SHAPE,
      datatype: "FP32",
      parameters: { binary_data_size: raw.length },
    };
    const asks = [
      { inputs: [input], outputs: [{ name: "logits", parameters: { binary_data: true } }] },
      { inputs: [input], parameters: { binary_data_output: true } },
    ];
    for (const head of asks) {
      const { body, headerLength } = binaryRequest(head, raw);
      const res = await post(server, "/v2/models/bin/versions/1/infer", body, {
        "content-type": "application/octet-stream",
        "inference-header-content-length": String(headerLength),
      });
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("application/octet-stream");
      const { head: answer, rest } = await readBinary(res);
      expect(answer).toMatchObject({
        model_name: "bin",
        model_version: "1",
        outputs: [{ name: "logits", shape: [2, 3], datatype: "FP32", parameters: { binary_data_size: 24 } }],
      });
      expect((answer.outputs as Array<Record<string, unknown>>)[0].data).toBeUndefined();
      expect(rest.length).toBe(24);
      const logits = new Float32Array(rest.buffer.slice(rest.byteOffset, rest.byteOffset + rest.length));
      expect(Array.from(logits)).toEqual(Array.from(expected));
    }

    // A JSON request may ask for a binary answer too.
    const res = await post(
      server,
      "/v2/models/bin/infer",
      Buffer.from(
        JSON.stringify({
          inputs: [{ name: "input", shape: SHAPE, datatype: "FP32", data: Array.from(data) }],
          parameters: { binary_data_output: true },
        }),
      ),
      { "content-type": "application/json" },
    );
    expect(res.status).toBe(200);
    const { rest } = await readBinary(res);
    expect(Array.from(new Float32Array(rest.buffer.slice(rest.byteOffset)))).toEqual(Array.from(expected));
  });

  it("refuses sizes that do not add up with 400 and a message that says why", async () => {
    const head = (size: number) => ({
      inputs: [{ name: "input", shape: SHAPE, datatype: "FP32", parameters: { binary_data_size: size } }],
    });
    const send = async (body: Buffer, headerLength: number | string) => {
      const res = await post(server, "/v2/models/bin/infer", body, {
        "content-type": "application/octet-stream",
        "inference-header-content-length": String(headerLength),
      });
      return { status: res.status, error: ((await res.json()) as { error: string }).error };
    };
    const ok = binaryRequest(head(raw.length), raw);

    const tooLong = await send(ok.body, ok.body.length + 10);
    expect(tooLong.status).toBe(400);
    expect(tooLong.error).toBe(
      `Inference-Header-Content-Length is ${ok.body.length + 10} but the body has only ${ok.body.length} bytes`,
    );

    const wrongSize = binaryRequest(head(raw.length - 4), raw.subarray(0, raw.length - 4));
    const mismatch = await send(wrongSize.body, wrongSize.headerLength);
    expect(mismatch.status).toBe(400);
    expect(mismatch.error).toBe(
      `input "input": binary_data_size is ${raw.length - 4} bytes, but shape [2,3,32,32] of FP32 needs ${raw.length}`,
    );

    const short = binaryRequest(head(raw.length), raw.subarray(0, 100));
    expect(await send(short.body, short.headerLength)).toMatchObject({
      status: 400,
      error: expect.stringMatching(/runs past the end of the binary section \(100 bytes left\)/),
    });

    const extra = binaryRequest(head(raw.length), Buffer.concat([raw, Buffer.alloc(8)]));
    expect(await send(extra.body, extra.headerLength)).toMatchObject({
      status: 400,
      error: expect.stringMatching(/holds \d+ bytes, but the inputs' binary_data_size add up to/),
    });

    expect(await send(ok.body, "twelve")).toMatchObject({ status: 400 });
    // Without the header, the body must be JSON: binary bytes make it malformed.
    const noHeader = await post(server, "/v2/models/bin/infer", ok.body, {
      "content-type": "application/octet-stream",
    });
    expect(noHeader.status).toBe(400);
  });
});
