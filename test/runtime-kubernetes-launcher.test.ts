import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  launcherCommand,
  maskSedProgram,
  parseTerminationMessage,
} from "../src/runtime/kubernetes/launcher.js";
import { FramedLogSplitter, StreamOffsets } from "../src/runtime/kubernetes/log-frames.js";

// The rank launcher is the container's PID 1 on Kubernetes; here it runs for real under /bin/sh (dash)
// with GNU sed, as it would in the workload image, with the env the Job's Pod template gives it.
const dirs: string[] = [];
const groups: number[] = [];
afterEach(() => {
  // A failed test must not leave its launcher behind: each runs in its own process group.
  for (const pgid of groups.splice(0)) {
    try {
      process.kill(-pgid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function launch(argv: string[], env: Record<string, string>) {
  const dir = mkdtempSync(path.join(os.tmpdir(), "k8s-launcher-"));
  dirs.push(dir);
  const [cmd, ...args] = launcherCommand(argv);
  const child = spawn(cmd, args, {
    detached: true,
    env: {
      PATH: "/usr/bin:/bin",
      MLOPS_LAUNCHER_DIR: path.join(dir, "state"),
      MLOPS_TERMINATION_LOG: path.join(dir, "termination-log"),
      MLOPS_OUTPUT_DIR: path.join(dir, "out"),
      ...env,
    },
  });
  if (child.pid) groups.push(child.pid);
  let output = "";
  child.stdout.on("data", (d: Buffer) => {
    output += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    output += d.toString();
  });
  const done = new Promise<{ status: number | null; output: string; termination: string }>((resolve) =>
    child.on("close", (status) =>
      resolve({ status, output, termination: readFileSync(path.join(dir, "termination-log"), "utf8") }),
    ),
  );
  return { child, done, output: () => output };
}

function split(log: string, replica: number) {
  const splitter = new FramedLogSplitter(replica);
  const chunks = [...splitter.push(log), ...splitter.end()];
  const text = (stream: string) =>
    chunks
      .filter((c) => c.stream === stream)
      .map((c) => c.data.toString())
      .join("");
  return { stdout: text("stdout"), stderr: text("stderr") };
}

describe("rank launcher (real sh)", () => {
  it("starts one process per rank with the torchrun env, frames both streams, masks, records every exit", async () => {
    const script =
      'echo "rank=$RANK local=$LOCAL_RANK world=$WORLD_SIZE node=$NODE_RANK master=$MASTER_ADDR:$MASTER_PORT cvd=$CUDA_VISIBLE_DEVICES idx=$MLOPS_REPLICA_INDEX"; ' +
      'echo "token is $MLOPS_TOKEN" >&2; printf "no newline"; [ "$LOCAL_RANK" = 1 ] && exit 3; exit 0';
    const token = "mlops_s3cr.t";
    const { done } = launch(["sh", "-c", script], {
      MLOPS_RANKS_PER_POD: "2",
      MLOPS_GPUS_PER_RANK: "2",
      PET_NODE_RANK: "1",
      PET_NNODES: "2",
      PET_MASTER_ADDR: "u-0.u.ns.svc",
      PET_MASTER_PORT: "29500",
      MLOPS_TORCHRUN: "1",
      MLOPS_REPLICA_VALUED: "MLOPS_REPLICA_INDEX",
      MLOPS_TOKEN: token,
      MLOPS_LOG_SED: maskSedProgram([token]),
    });
    const result = await done;
    expect(result.status).toBe(3);
    expect(result.output).not.toContain(token);
    expect(split(result.output, 2)).toEqual({
      stdout: "rank=2 local=0 world=4 node=1 master=u-0.u.ns.svc:29500 cvd=0,1 idx=2\nno newline\n",
      stderr: "token is ***\n",
    });
    expect(split(result.output, 3).stdout).toContain(
      "rank=3 local=1 world=4 node=1 master=u-0.u.ns.svc:29500 cvd=2,3 idx=3",
    );
    const exits = parseTerminationMessage(result.termination);
    expect(exits?.get(2)).toEqual({ exitCode: 0, signal: null });
    expect(exits?.get(3)).toEqual({ exitCode: 3, signal: null });
  });

  it("forwards SIGTERM to the ranks, keeps their last words, and reports a rank killed by a signal", {
    timeout: 15_000,
  }, async () => {
    const script =
      'if [ "$LOCAL_RANK" = 0 ]; then trap "echo saving checkpoint; exit 0" TERM; echo ready; while :; do sleep 0.05; done; ' +
      "else echo ready; kill -9 $$; fi";
    const run = launch(["sh", "-c", script], {
      MLOPS_RANKS_PER_POD: "2",
      MLOPS_TORCHRUN: "1",
      PET_NNODES: "1",
    });
    while ((run.output().match(/ready/g) ?? []).length < 2) await new Promise((r) => setTimeout(r, 20));
    run.child.kill("SIGTERM");
    const result = await run.done;
    expect(split(result.output, 0).stdout).toBe("ready\nsaving checkpoint\n");
    expect(split(result.output, 1).stdout).toBe("ready\n");
    const exits = parseTerminationMessage(result.termination);
    expect(exits?.get(0)).toEqual({ exitCode: 0, signal: null });
    expect(exits?.get(1)).toEqual({ exitCode: null, signal: "SIGKILL" });
    expect(result.status).toBe(137);
  });

  it("runs a plain replica (no rank layout) with its own index and no torchrun names; a missing program is 127", async () => {
    const result = await launch(
      ["sh", "-c", '[ -z "$RANK" ] && echo "rank=unset cvd=[$CUDA_VISIBLE_DEVICES]"'],
      {
        MLOPS_FIRST_REPLICA: "5",
      },
    ).done;
    expect(split(result.output, 5).stdout).toBe("rank=unset cvd=[]\n");
    expect(parseTerminationMessage(result.termination)?.get(5)).toEqual({ exitCode: 0, signal: null });
    const missing = await launch(["/nonexistent/program"], {}).done;
    expect(missing.status).toBe(127);
    expect(split(missing.output, 0).stderr).toMatch(/not found/);
  });
});

describe("log frames", () => {
  it("splits one replica's streams out of a Pod log delivered in arbitrary pieces, and resumes at offsets", () => {
    const log = "0o|hello\n1o|other rank\n0e|warn\nunframed failure\n0o|wörld\n";
    const splitter = new FramedLogSplitter(0);
    const chunks = [];
    for (let i = 0; i < log.length; i += 3) chunks.push(...splitter.push(Buffer.from(log.slice(i, i + 3))));
    chunks.push(...splitter.end());
    const offsets = new StreamOffsets({ stdout: 3 });
    const resumed: Array<[string, string]> = [];
    for (const chunk of chunks.map((c) => offsets.apply(c)).filter((c) => c !== null)) {
      const last = resumed[resumed.length - 1];
      if (last && last[0] === chunk.stream) last[1] += chunk.data.toString();
      else resumed.push([chunk.stream, chunk.data.toString()]);
    }
    expect(resumed).toEqual([
      ["stdout", "lo\n"],
      ["stderr", "warn\nunframed failure\n"],
      ["stdout", "wörld\n"],
    ]);
  });
});
