/**
 * Entry point of one inference worker thread: owns a SessionHost and answers the pool's messages.
 * onnxruntime's `run` is synchronous native work, so it lives here and not on the event loop.
 */
import { parentPort } from "node:worker_threads";
import type { RunReply, WorkerReply, WorkerRequest } from "./protocol.js";
import { SessionHost, toWireError } from "./session-host.js";

const port = parentPort;
if (!port) throw new Error("inference-worker must run in a worker thread");
const host = new SessionHost();

port.on("message", (msg: WorkerRequest) => {
  handle(msg).then(
    (value) => {
      const reply: WorkerReply = { id: msg.id, ok: true, value };
      port.postMessage(reply, msg.type === "run" ? transferables(value as RunReply) : []);
    },
    (err: unknown) => {
      const reply: WorkerReply = { id: msg.id, ok: false, error: toWireError(err) };
      port.postMessage(reply);
    },
  );
});

async function handle(msg: WorkerRequest): Promise<unknown> {
  switch (msg.type) {
    case "load":
      return host.load(msg.key, msg.modelPath, msg.descriptor, msg.intraOpNumThreads);
    case "unload":
      return host.unload(msg.key);
    case "run":
      return host.run(msg.key, msg.items);
  }
}

/** Output arrays are fresh copies, so handing over their buffers saves a second copy. */
function transferables(reply: RunReply): ArrayBuffer[] {
  const buffers: ArrayBuffer[] = [];
  for (const item of reply.items) {
    if (item.ok && item.kind === "tensors") {
      for (const t of item.outputs) buffers.push(t.data.buffer as ArrayBuffer);
    }
  }
  return buffers;
}

port.postMessage({ id: 0, ok: true, value: "ready" } satisfies WorkerReply);
