import { type ChildProcess, spawn } from "node:child_process";
import http from "node:http";
import net from "node:net";
import path from "node:path";

/**
 * The serving benchmark's peer (bench/fastapi-peer.py: FastAPI + uvicorn + PyTorch, the same model) as a
 * child process, and a keep-alive HTTP client that the benchmark uses for every server alike.
 */

export interface HttpAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type HttpCall = (
  method: string,
  urlPath: string,
  body?: Buffer,
  headers?: Record<string, string>,
) => Promise<HttpAnswer>;

/** node:http with a keep-alive agent: the same client code for the platform, its floor and the peer. */
export function httpClient(baseUrl: string, defaults: Record<string, string> = {}) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  const url = new URL(baseUrl);
  const call: HttpCall = (method, urlPath, body, headers = {}) =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          host: url.hostname,
          port: url.port,
          method,
          path: urlPath,
          headers: {
            ...defaults,
            ...(body ? { "content-length": String(body.length) } : {}),
            ...headers,
          },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on("data", (d: Buffer) => parts.push(d));
          res.on("end", () =>
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }),
          );
          res.on("error", reject);
        },
      );
      req.on("error", reject);
      req.end(body);
    });
  return { call, agent };
}

export interface Peer {
  url: string;
  call: HttpCall;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

/** Starts the FastAPI peer for an ONNX model and waits until it answers its liveness route. */
export async function startFastApiPeer(modelPath: string, timeoutMs = 60_000): Promise<Peer> {
  const port = await freePort();
  const script = path.join(import.meta.dirname, "fastapi-peer.py");
  const child: ChildProcess = spawn(
    "/usr/bin/python3",
    [script, "--model", modelPath, "--port", String(port)],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, OMP_NUM_THREADS: "1" },
    },
  );
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d.toString();
  });
  child.stderr?.on("data", (d) => {
    output += d.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  const { call, agent } = httpClient(url);
  const stop = async () => {
    agent.destroy();
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGTERM");
    });
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the FastAPI peer exited (${child.exitCode}):\n${output}`);
    const live = await call("GET", "/v2/health/live").catch(() => undefined);
    if (live?.status === 200) return { url, call, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`the FastAPI peer did not start in ${timeoutMs} ms:\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
