import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/** An HTTP error from the control plane that retrying will not fix. */
export class WorkerHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface WorkerClientOptions {
  apiUrl: string;
  token: string;
  /** How long to keep retrying while the control plane is unreachable (a restart) or busy. */
  retryForMs: number;
  log: (line: string) => void;
}

/** Errors worth retrying: the control plane restarting, overloaded, or the batch still linking its job. */
const RETRY_STATUS = new Set([429, 502, 503, 504]);
const RETRY_CODES = new Set(["BATCH_WORKER_NOT_LINKED"]);

/** The worker's HTTP client: JSON calls and downloads, retried across control-plane restarts. */
export class WorkerClient {
  private readonly base: string;

  constructor(private readonly options: WorkerClientOptions) {
    this.base = options.apiUrl.replace(/\/$/, "");
  }

  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await this.request(method, path, body);
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  async download(path: string, file: string): Promise<void> {
    const response = await this.request("GET", path);
    if (!response.body) throw new Error(`empty response from ${path}`);
    await pipeline(
      Readable.fromWeb(response.body as import("node:stream/web").ReadableStream),
      createWriteStream(file),
    );
  }

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const deadline = Date.now() + this.options.retryForMs;
    let delay = 200;
    for (;;) {
      let failure: string;
      try {
        const response = await fetch(this.base + path, {
          method,
          headers: {
            authorization: `Bearer ${this.options.token}`,
            ...(body === undefined ? {} : { "content-type": "application/json" }),
          },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        if (response.ok) return response;
        const text = await response.text();
        const { code, message } = errorOf(text, response.status);
        if (!RETRY_STATUS.has(response.status) && !RETRY_CODES.has(code))
          throw new WorkerHttpError(
            response.status,
            code,
            `${method} ${path}: ${response.status} ${message}`,
          );
        failure = `${response.status} ${message}`;
      } catch (err) {
        if (err instanceof WorkerHttpError) throw err;
        failure = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      }
      if (Date.now() + delay > deadline) throw new Error(`${method} ${path} kept failing: ${failure}`);
      this.options.log(`${method} ${path} failed (${failure}); retrying in ${delay} ms`);
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 2000);
    }
  }
}

function errorOf(text: string, status: number): { code: string; message: string } {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (parsed.error && typeof parsed.error === "object")
      return { code: parsed.error.code ?? `HTTP_${status}`, message: parsed.error.message ?? text };
  } catch {
    // not JSON
  }
  return { code: `HTTP_${status}`, message: text.slice(0, 200) };
}
