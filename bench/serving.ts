import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import {
  createDirectSession,
  measureLatency,
  measureThroughput,
  runDirect,
} from "../test/support/onnx-direct.js";
import { FIXTURE_MODELS_DIR, fixtureModel } from "../test/fixtures/models/fixtures.js";
import { type ServerProcess, spawnServer, waitFor } from "../test/support/processes.js";

/**
 * Online serving through HTTP, each figure next to its baseline from the same run:
 * - single-image latency of OIP `POST /v2/models/{deployment}/infer` (tiny classifier, one FP32
 *   1x3x32x32 tensor) vs the same tensor through a direct in-process onnxruntime session (target:
 *   <= 1 ms added at p50);
 * - requests/s at concurrency 32 (target >= 5,000) vs the direct session's calls/s;
 * - the canary split: the share of 10,000 requests the canary answered vs its configured percent.
 * The server is a separate process (`mlops server` on SQLite); this process is the load generator
 * (node:http with a keep-alive agent, 32 sockets). Both share the machine's cores.
 */
export const BENCH_TOKEN = "mlops_bench-admin-token-0123456789abcdef";
const TINY = "tiny-classifier";

export interface BenchServer {
  process: ServerProcess;
  url: string;
  agent: http.Agent;
  call<T>(method: string, urlPath: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
  upload(urlPath: string, bytes: Buffer): Promise<{ sha256: string }>;
  /** POST of prepared JSON bytes (the load loop does not re-serialize its body per request). */
  postJson<T>(urlPath: string, payload: Buffer): Promise<T>;
  stop(): Promise<void>;
}

/** `mlops server` as a child process with its own data dir, and a keep-alive client for it. */
export async function startBenchServer(env: Record<string, string> = {}): Promise<BenchServer> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), "mlops-bench-"));
  const child = await spawnServer(
    { MLOPS_DATA_DIR: dataDir, MLOPS_ADMIN_TOKEN: BENCH_TOKEN, ...env },
    60_000,
  );
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(child.url);
  const request = (
    method: string,
    urlPath: string,
    body: Buffer | undefined,
    headers: Record<string, string>,
  ) =>
    new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method,
          path: urlPath,
          headers: { authorization: `Bearer ${BENCH_TOKEN}`, ...headers },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (d: Buffer) => parts.push(d));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString("utf8") }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  const server: BenchServer = {
    process: child,
    url: child.url,
    agent,
    async call<T>(method: string, urlPath: string, body?: unknown, headers: Record<string, string> = {}) {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const res = await request(method, urlPath, payload, {
        ...(payload ? { "content-type": "application/json", "content-length": String(payload.length) } : {}),
        ...headers,
      });
      if (res.status >= 300) throw new Error(`${method} ${urlPath}: ${res.status} ${res.text.slice(0, 300)}`);
      return (res.text ? JSON.parse(res.text) : undefined) as T;
    },
    async postJson<T>(urlPath: string, payload: Buffer) {
      const res = await request("POST", urlPath, payload, {
        "content-type": "application/json",
        "content-length": String(payload.length),
      });
      if (res.status >= 300) throw new Error(`POST ${urlPath}: ${res.status} ${res.text.slice(0, 300)}`);
      return JSON.parse(res.text) as T;
    },
    async upload(urlPath: string, bytes: Buffer) {
      const res = await request("POST", urlPath, bytes, {
        "content-type": "application/octet-stream",
        "content-length": String(bytes.length),
      });
      if (res.status >= 300) throw new Error(`upload ${urlPath}: ${res.status} ${res.text.slice(0, 300)}`);
      return JSON.parse(res.text) as { sha256: string };
    },
    async stop() {
      agent.destroy();
      await child.kill("SIGTERM");
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Registers a fixture model as a new version of `model`; returns the version number. */
export async function registerFixture(server: BenchServer, model: string, fixture = TINY): Promise<number> {
  await server.call("POST", "/api/v1/models", { name: model }).catch(() => undefined);
  const dir = path.join(FIXTURE_MODELS_DIR, fixture);
  const onnx = await server.upload("/api/v1/models/uploads", readFileSync(path.join(dir, "model.onnx")));
  const json = await server.upload("/api/v1/models/uploads", readFileSync(path.join(dir, "model.json")));
  const created = await server.call<{ version: number }>("POST", `/api/v1/models/${model}/versions`, {
    files: [
      { path: "model.onnx", sha256: onnx.sha256 },
      { path: "model.json", sha256: json.sha256 },
    ],
  });
  return created.version;
}

export function printFigure(name: string, figure: number, baseline: number, unit: string, note = ""): void {
  const ratio = baseline === 0 ? Number.NaN : figure / baseline;
  process.stdout.write(
    `${name.padEnd(44)} ${fmt(figure)} ${unit}  | baseline ${fmt(baseline)} ${unit}  | ratio ${ratio.toFixed(3)}${note ? `  | ${note}` : ""}\n`,
  );
}

function fmt(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(3);
}

function argOf(args: string[], name: string, fallback: number): number {
  const found = args.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split("=")[1]) : fallback;
}

export async function run(args: string[]): Promise<void> {
  const latencyN = argOf(args, "latency-requests", 2000);
  const throughputN = argOf(args, "throughput-requests", 20_000);
  const splitN = argOf(args, "split-requests", 10_000);
  const canaryPercent = argOf(args, "canary-percent", 20);

  const { modelPath, descriptor } = fixtureModel(TINY);
  const shape = [1, ...descriptor.inputShape];
  const data = Float32Array.from(
    { length: shape.reduce((a, b) => a * b, 1) },
    (_, i) => ((i * 37) % 255) / 255 - 0.5,
  );

  // Baseline: the same tensor through onnxruntime on this thread.
  const session = await createDirectSession(modelPath, 1);
  const direct = () => runDirect(session, descriptor.inputName, data, shape);
  const directLatency = await measureLatency(direct, latencyN, 500);
  const directThroughput = await measureThroughput(direct, 32, throughputN);

  const server = await startBenchServer();
  try {
    const v1 = await registerFixture(server, "bench-clf");
    const v2 = await registerFixture(server, "bench-clf");
    await server.call("POST", "/api/v1/deployments", {
      name: "bench",
      model: "bench-clf",
      version: v1,
      environment: "dev",
    });
    await waitFor(
      async () =>
        (
          await server
            .call<{ ready: boolean }>("GET", "/v2/models/bench/ready")
            .catch(() => ({ ready: false }))
        ).ready,
      30_000,
      "the deployment to load",
    );
    const body = Buffer.from(
      JSON.stringify({
        inputs: [{ name: descriptor.inputName, shape, datatype: "FP32", data: Array.from(data) }],
      }),
    );
    const infer = () => server.postJson("/v2/models/bench/infer", body);
    // Context: the HTTP floor of this server (a public route: no auth, no model), same client.
    const live = () => server.call("GET", "/v2/health/live");
    const floor = await measureThroughput(live, 32, Math.min(throughputN, 10_000));
    const floorLatency = await measureLatency(live, Math.min(latencyN, 1000), 200);
    const httpLatency = await measureLatency(infer, latencyN, 500);
    const httpThroughput = await measureThroughput(infer, 32, throughputN);

    process.stdout.write(
      `server: separate process (mlops server, SQLite); client: node:http keep-alive, this process\n`,
    );
    printFigure(
      "single image p50 latency (HTTP OIP vs direct)",
      httpLatency.p50Ms,
      directLatency.p50Ms,
      "ms",
      `added ${(httpLatency.p50Ms - directLatency.p50Ms).toFixed(3)} ms (target <= 1 ms)`,
    );
    printFigure(
      "single image p99 latency (HTTP OIP vs direct)",
      httpLatency.p99Ms,
      directLatency.p99Ms,
      "ms",
    );
    printFigure(
      "requests/s at concurrency 32 (HTTP vs direct)",
      httpThroughput.perSecond,
      directThroughput.perSecond,
      "req/s",
      `target >= 5000; HTTP p50 ${httpThroughput.p50Ms.toFixed(2)} ms, p99 ${httpThroughput.p99Ms.toFixed(2)} ms`,
    );

    printFigure(
      "context: HTTP floor req/s (GET /v2/health/live)",
      floor.perSecond,
      directThroughput.perSecond,
      "req/s",
      `p50 ${floorLatency.p50Ms.toFixed(3)} ms at concurrency 1`,
    );

    // The canary split, counted from the answers: each says whether the canary served it.
    await server.call("POST", "/api/v1/deployments/bench/canary", { version: v2, percent: canaryPercent });
    await waitFor(
      async () =>
        (
          await server
            .call<{ ready: boolean }>("GET", `/v2/models/bench/versions/${v2}/ready`)
            .catch(() => ({ ready: false }))
        ).ready,
      30_000,
      "the canary to load",
    );
    let canary = 0;
    let total = 0;
    await measureThroughput(
      async () => {
        const answer = await server.postJson<{ parameters: { canary: boolean } }>(
          "/v2/models/bench/infer",
          body,
        );
        total++;
        if (answer.parameters.canary) canary++;
      },
      32,
      splitN,
    );
    const share = (100 * canary) / total;
    printFigure(
      "canary share over requests (%)",
      share,
      canaryPercent,
      "%",
      `${canary}/${total} to the canary; off by ${(share - canaryPercent).toFixed(2)} points (target +-2)`,
    );
  } finally {
    await server.stop();
    await session.release();
  }
}
