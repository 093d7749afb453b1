import { mkdirSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import path from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ArtifactStore } from "../../src/artifacts/artifact-store.js";
import { packDirectory } from "../../src/artifacts/code-archive.js";
import { ConflictError, InputError } from "../../src/errors.js";
import type { LogChunk, ReplicaSpec, ReplicaStatus, Runtime } from "../../src/runtime/runtime.js";

/**
 * The backend-neutral runtime contract (docs/architecture/runtime-contract.md), run against every
 * backend: local (test/runtime-contract/local.contract.test.ts), Slurm and Kubernetes. Each case uses
 * only the Runtime interface and `sh -c` commands, and its own job id.
 */
export interface ContractSpecInput {
  jobId: string;
  command: string[];
  attempt?: number;
  replicaIndex?: number;
  env?: Record<string, string>;
  timeoutSeconds?: number | null;
  graceMs?: number;
  rank?: ReplicaSpec["rank"];
  kind?: ReplicaSpec["kind"];
  ports?: ReplicaSpec["ports"];
  volumes?: ReplicaSpec["volumes"];
  user?: ReplicaSpec["user"];
  maskInLogs?: string[];
  codeDigest?: string;
}

export interface ContractTarget {
  runtime: Runtime;
  /** A new runtime instance over the same state: what a control-plane restart looks like. */
  restart(): Promise<Runtime>;
  /** A full spec with the backend's defaults (resources, image, network) around the case's fields. */
  specFor(partial: ContractSpecInput): ReplicaSpec;
  cleanup(): Promise<void>;
  /** Opt-in groups of cases; every other case is required of every backend. */
  capabilities?: {
    /** Stopping one gang member leaves the others running (default true; Kubernetes: false). */
    gangMemberStop?: boolean;
    /** ports + endpoints reachable from the test, volumes, login user (kind "workspace"). */
    workspaces?: boolean;
    /** usage() measures CPU and memory of a running replica. */
    usage?: boolean;
  };
  /**
   * A code archive the backend can fetch (in its artifact store) holding `file` with `content`: the
   * code case runs when given (the suite's helper `packContractCode` makes one).
   */
  code?: { digest: string; file: string; content: string };
  /** Extra time for starts and ends on slow backends (default 5000 ms). */
  slackMs?: number;
  /** Per-case vitest timeout (default 60 s). */
  testTimeoutMs?: number;
}

const sh = (script: string) => ["sh", "-c", script];

export async function collect(
  iterable: AsyncIterable<LogChunk>,
): Promise<{ stdout: string; stderr: string }> {
  const out = { stdout: [] as Buffer[], stderr: [] as Buffer[] };
  for await (const chunk of iterable) out[chunk.stream].push(chunk.data);
  return { stdout: Buffer.concat(out.stdout).toString(), stderr: Buffer.concat(out.stderr).toString() };
}

async function readStream(stream: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts).toString();
}

export function runtimeContractSuite(name: string, setup: () => Promise<ContractTarget>): void {
  describe(`runtime contract: ${name}`, () => {
    let target: ContractTarget;
    let runtime: Runtime;
    let slack = 5000;
    let n = 0;
    const jobId = (what: string) => `ct-${what}-${process.pid}-${n++}`;
    const spec = (partial: ContractSpecInput) => target.specFor(partial);
    const timeout = () => target?.testTimeoutMs ?? 60_000;

    beforeAll(async () => {
      target = await setup();
      runtime = target.runtime;
      slack = target.slackMs ?? 5000;
    }, 120_000);
    afterAll(async () => {
      await target?.cleanup();
    }, 120_000);

    /** Waits until `check` holds for the replica's status (polling reconcile). */
    async function untilStatus(
      on: Runtime,
      replicaId: string,
      check: (status: ReplicaStatus | undefined) => boolean,
      withinMs: number,
    ): Promise<ReplicaStatus | undefined> {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const status = (await on.reconcile()).find((s) => s.replicaId === replicaId);
        if (check(status) || Date.now() > deadline) return status;
        await sleep(100);
      }
    }

    /** Follows the logs until `text` appears on stdout. */
    async function untilOutput(replicaId: string, text: string): Promise<string> {
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), slack + 10_000);
      let seen = "";
      try {
        for await (const chunk of runtime.logs(replicaId, { follow: true, signal: controller.signal })) {
          if (chunk.stream === "stdout") seen += chunk.data.toString();
          if (seen.includes(text)) return seen;
        }
      } finally {
        clearTimeout(timer);
        controller.abort();
      }
      throw new Error(`'${text}' never appeared in the logs of ${replicaId} (saw: ${JSON.stringify(seen)})`);
    }

    it("runs a command to exit 0 and keeps both streams", { timeout: timeout() }, async () => {
      const handle = await runtime.start(spec({ jobId: jobId("ok"), command: sh("echo out; echo err >&2") }));
      expect(handle.replicaId).toMatch(/\.a0\.r0$/);
      const exit = await handle.exited;
      expect(exit).toMatchObject({ replicaId: handle.replicaId, end: "exited", exitCode: 0, signal: null });
      expect(Date.parse(exit.endedAt)).toBeGreaterThanOrEqual(Date.parse(exit.startedAt));
      const logs = await collect(runtime.logs(handle.replicaId));
      expect(logs).toEqual({ stdout: "out\n", stderr: "err\n" });
      expect(await runtime.wait(handle.replicaId)).toEqual(exit);
    });

    it("records an exit code", { timeout: timeout() }, async () => {
      const handle = await runtime.start(spec({ jobId: jobId("code"), command: sh("exit 3") }));
      expect(await handle.exited).toMatchObject({ end: "exited", exitCode: 3, signal: null });
    });

    it("records death by a signal", { timeout: timeout() }, async () => {
      const handle = await runtime.start(spec({ jobId: jobId("signal"), command: sh("kill -9 $$") }));
      expect(await handle.exited).toMatchObject({ end: "exited", exitCode: null, signal: "SIGKILL" });
    });

    it("gives the runtime's environment: work dir as cwd, writable output dir, HOME", {
      timeout: timeout(),
    }, async () => {
      const script =
        'test "$(pwd)" = "$MLOPS_WORK_DIR" && echo ok > "$MLOPS_OUTPUT_DIR/out.txt" && test -n "$HOME" && cat "$MLOPS_OUTPUT_DIR/out.txt"; echo "[$CUDA_VISIBLE_DEVICES]"';
      const handle = await runtime.start(spec({ jobId: jobId("env"), command: sh(script) }));
      const exit = await handle.exited;
      const logs = await collect(runtime.logs(handle.replicaId));
      expect(exit.exitCode, logs.stderr).toBe(0);
      expect(logs.stdout).toBe("ok\n[]\n");
    });

    it("puts the code archive in the work dir before the command starts, once for a gang", {
      timeout: timeout(),
    }, async (context) => {
      const code = target.code;
      if (!code) return context.skip();
      const id = jobId("code");
      const handles = await runtime.startGang(
        [0, 1].map((replicaIndex) =>
          spec({ jobId: id, replicaIndex, codeDigest: code.digest, command: sh(`cat "${code.file}"`) }),
        ),
      );
      for (const handle of handles) {
        const exit = await handle.exited;
        const logs = await collect(runtime.logs(handle.replicaId));
        expect(exit.exitCode, logs.stderr).toBe(0);
        expect(logs.stdout).toBe(code.content);
      }
    });

    it("keeps the job's work dir across attempts until removeJobFiles", { timeout: timeout() }, async () => {
      const id = jobId("workdir");
      const write = await runtime.start(spec({ jobId: id, command: sh('echo 42 > "$MLOPS_WORK_DIR/ckpt"') }));
      expect((await write.exited).exitCode).toBe(0);
      const read = await runtime.start(
        spec({ jobId: id, attempt: 1, command: sh('cat "$MLOPS_WORK_DIR/ckpt"') }),
      );
      expect((await read.exited).exitCode).toBe(0);
      expect((await collect(runtime.logs(read.replicaId))).stdout).toBe("42\n");
      await runtime.removeJobFiles(id);
      await runtime.removeJobFiles(id); // idempotent
      const after = await runtime.start(
        spec({
          jobId: id,
          attempt: 2,
          command: sh('test -e "$MLOPS_WORK_DIR/ckpt" && echo still-there; true'),
        }),
      );
      expect((await after.exited).exitCode).toBe(0);
      expect((await collect(runtime.logs(after.replicaId))).stdout).toBe("");
    });

    it("stops a replica that ignores SIGTERM with SIGKILL after the grace", {
      timeout: timeout(),
    }, async () => {
      const handle = await runtime.start(
        spec({
          jobId: jobId("stubborn"),
          command: sh("trap '' TERM; echo ready; while :; do sleep 0.1; done"),
        }),
      );
      await untilOutput(handle.replicaId, "ready");
      const started = Date.now();
      const exit = await runtime.stop(handle.replicaId, { graceMs: 500 });
      expect(exit).toMatchObject({ end: "stopped", exitCode: null, signal: "SIGKILL" });
      expect(Date.now() - started).toBeGreaterThanOrEqual(450);
      expect(Date.now() - started).toBeLessThan(500 + slack);
      expect(await runtime.stop(handle.replicaId)).toEqual(exit); // stopping what ended is a no-op
    });

    it("stops a replica that exits on SIGTERM quickly", { timeout: timeout() }, async () => {
      const handle = await runtime.start(
        spec({
          jobId: jobId("graceful"),
          command: sh("trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.1; done"),
        }),
      );
      await untilOutput(handle.replicaId, "ready");
      const started = Date.now();
      const exit = await runtime.stop(handle.replicaId, { graceMs: 30_000 });
      expect(exit.end).toBe("stopped");
      expect(exit.signal).not.toBe("SIGKILL");
      expect(Date.now() - started).toBeLessThan(slack + 2000);
      expect((await collect(runtime.logs(handle.replicaId))).stdout).toContain("bye");
    });

    it("ends a replica at its timeout", { timeout: timeout() }, async () => {
      const handle = await runtime.start(
        spec({ jobId: jobId("timeout"), command: sh("sleep 60"), timeoutSeconds: 1, graceMs: 500 }),
      );
      const exit = await handle.exited;
      expect(exit.end).toBe("timeout");
      expect(exit.exitCode).not.toBe(0);
      expect(exit.durationMs).toBeGreaterThanOrEqual(900);
      expect(exit.durationMs).toBeLessThan(1500 + slack);
    });

    it("follows live output before the end, and the archive equals what was streamed", {
      timeout: timeout(),
    }, async () => {
      const handle = await runtime.start(
        spec({ jobId: jobId("live"), command: sh("echo first; echo e1 >&2; sleep 60") }),
      );
      const live = await untilOutput(handle.replicaId, "first");
      expect(live).toBe("first\n");
      expect((await untilStatus(runtime, handle.replicaId, () => true, 0))?.state).toBe("running");
      await runtime.stop(handle.replicaId, { graceMs: 500 });
      const streamed = await collect(runtime.logs(handle.replicaId));
      const archive = await runtime.logArchive(handle.replicaId);
      expect({ stdout: await readStream(archive.stdout), stderr: await readStream(archive.stderr) }).toEqual(
        streamed,
      );
      expect(streamed.stdout).toBe("first\n");
      // A shell whose `sleep` died of the stop's SIGTERM before the shell did may add "Terminated" (dash).
      expect(streamed.stderr.startsWith("e1\n")).toBe(true);
      // Resuming from an offset gives the rest only.
      expect((await collect(runtime.logs(handle.replicaId, { from: { stdout: 2, stderr: 3 } }))).stdout).toBe(
        "rst\n",
      );
    });

    it("masks values in the logs, also in the archive", { timeout: timeout() }, async () => {
      const secret = "tok-9f8e7d6c5b4a";
      const handle = await runtime.start(
        spec({
          jobId: jobId("mask"),
          command: sh('echo "token=$SECRET"; echo "$SECRET" >&2'),
          env: { SECRET: secret },
          maskInLogs: [secret],
        }),
      );
      await handle.exited;
      const logs = await collect(runtime.logs(handle.replicaId));
      expect(logs).toEqual({ stdout: "token=***\n", stderr: "***\n" });
      const archive = await runtime.logArchive(handle.replicaId);
      expect(await readStream(archive.stdout)).not.toContain(secret);
    });

    it("refuses to remove a running replica", { timeout: timeout() }, async () => {
      const handle = await runtime.start(spec({ jobId: jobId("remove"), command: sh("sleep 60") }));
      await expect(runtime.remove(handle.replicaId)).rejects.toBeInstanceOf(ConflictError);
      await runtime.stop(handle.replicaId, { graceMs: 200 });
      await runtime.remove(handle.replicaId);
      expect((await runtime.reconcile()).some((s) => s.replicaId === handle.replicaId)).toBe(false);
    });

    it("after a restart, a new instance finds a running replica and waits for its exit", {
      timeout: timeout(),
    }, async () => {
      const seconds = Math.ceil(slack / 1000) + 3;
      const first = await runtime.start(
        spec({ jobId: jobId("restart"), command: sh(`sleep ${seconds}; exit 5`) }),
      );
      await untilStatus(runtime, first.replicaId, (s) => s?.state === "running", slack);
      await runtime.close();
      runtime = await target.restart();
      const status = (await runtime.reconcile()).find((s) => s.replicaId === first.replicaId);
      expect(status).toMatchObject({ state: "running", jobId: first.replicaId.split(".a")[0], attempt: 0 });
      expect(await runtime.wait(first.replicaId)).toMatchObject({ end: "exited", exitCode: 5 });
    });

    it("after a restart, an exit that happened while nobody watched is reported", {
      timeout: timeout(),
    }, async () => {
      const handle = await runtime.start(spec({ jobId: jobId("unwatched"), command: sh("sleep 1; exit 4") }));
      await runtime.close();
      await sleep(1500);
      runtime = await target.restart();
      const status = await untilStatus(runtime, handle.replicaId, (s) => s?.state === "exited", slack + 5000);
      expect(status).toMatchObject({ state: "exited", exit: { end: "exited", exitCode: 4 } });
    });

    describe("gangs", () => {
      const layout = (rank: number) => ({
        rank,
        localRank: rank,
        nodeRank: 0,
        worldSize: 2,
        localWorldSize: 2,
        nodes: 1,
      });

      it("starts ranks together with one rendezvous", { timeout: timeout() }, async () => {
        const id = jobId("gang");
        const script = 'echo "$RANK $WORLD_SIZE $LOCAL_RANK $MASTER_ADDR $MASTER_PORT"';
        const handles = await runtime.startGang(
          [0, 1].map((rank) =>
            spec({ jobId: id, replicaIndex: rank, rank: layout(rank), command: sh(script) }),
          ),
        );
        expect(handles).toHaveLength(2);
        const lines: string[][] = [];
        for (const handle of handles) {
          expect((await handle.exited).exitCode).toBe(0);
          lines.push((await collect(runtime.logs(handle.replicaId))).stdout.trim().split(" "));
        }
        expect(lines.map((line) => line.slice(0, 3))).toEqual([
          ["0", "2", "0"],
          ["1", "2", "1"],
        ]);
        expect(lines[0][3]).not.toBe("");
        expect(Number(lines[0][4])).toBeGreaterThan(0);
        expect(lines[1].slice(3)).toEqual(lines[0].slice(3));
      });

      it("starts none when one spec is invalid", { timeout: timeout() }, async () => {
        const id = jobId("badgang");
        const good = spec({ jobId: id, replicaIndex: 0, rank: layout(0), command: sh("sleep 30") });
        const bad = {
          ...spec({ jobId: id, replicaIndex: 1, rank: layout(1), command: sh("true") }),
          command: [],
        };
        await expect(runtime.startGang([good, bad])).rejects.toBeInstanceOf(InputError);
        const duplicate = spec({ jobId: id, replicaIndex: 0, rank: layout(1), command: sh("true") });
        await expect(runtime.startGang([good, duplicate])).rejects.toBeInstanceOf(InputError);
        expect((await runtime.reconcile()).filter((s) => s.jobId === id)).toEqual([]);
      });

      it("stopping one member leaves the others to the caller", { timeout: timeout() }, async (context) => {
        // Kubernetes: a gang is one Job and a node's ranks share a Pod; stopping one member stops the gang.
        if (target.capabilities?.gangMemberStop === false) return context.skip();
        const id = jobId("member");
        const handles = await runtime.startGang(
          [0, 1].map((rank) =>
            spec({ jobId: id, replicaIndex: rank, rank: layout(rank), command: sh("sleep 60") }),
          ),
        );
        await runtime.stop(handles[1].replicaId, { graceMs: 200 });
        const rank0 = await untilStatus(runtime, handles[0].replicaId, () => true, 0);
        expect(rank0?.state).toBe("running");
        expect((await runtime.stop(handles[0].replicaId, { graceMs: 200 })).end).toBe("stopped");
      });
    });

    describe("usage", () => {
      it("samples CPU and memory of a running replica; null once it ended", {
        timeout: timeout(),
      }, async (context) => {
        if (!target.capabilities?.usage) return context.skip();
        const handle = await runtime.start(
          spec({ jobId: jobId("usage"), command: sh("echo busy; while :; do :; done") }),
        );
        await untilOutput(handle.replicaId, "busy");
        await runtime.usage(handle.replicaId);
        await sleep(500);
        const usage = await runtime.usage(handle.replicaId);
        expect(usage?.cpuCores).toBeGreaterThan(0.2);
        expect(usage?.memoryBytes).toBeGreaterThan(100 * 1024);
        await runtime.stop(handle.replicaId, { graceMs: 200 });
        expect(await runtime.usage(handle.replicaId)).toBeNull();
      });
    });

    describe("workspaces", () => {
      const server = [
        "/usr/bin/python3",
        "-c",
        [
          "import os, socket",
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)",
          "s.bind(('0.0.0.0', int(os.environ['MLOPS_PORT_HTTP']))); s.listen(1)",
          "print('listening', flush=True)",
          "while True:",
          "    c, _ = s.accept(); c.sendall(b'hello from the replica\\n'); c.close()",
        ].join("\n"),
      ];

      it("publishes ports as endpoints that are reachable, also after a restart", {
        timeout: timeout(),
      }, async (context) => {
        if (!target.capabilities?.workspaces) return context.skip();
        const handle = await runtime.start(
          spec({ jobId: jobId("ports"), kind: "workspace", ports: [{ name: "http" }], command: server }),
        );
        const endpoint = handle.endpoints?.http;
        expect(endpoint?.port).toBeGreaterThan(0);
        await untilOutput(handle.replicaId, "listening");
        const greeting = await new Promise<string>((resolve, reject) => {
          const socket = connect(endpoint!.port, endpoint!.host);
          let data = "";
          socket.on("data", (chunk) => {
            data += chunk;
          });
          socket.on("end", () => resolve(data));
          socket.on("error", reject);
        });
        expect(greeting).toBe("hello from the replica\n");
        await runtime.close();
        runtime = await target.restart();
        const status = (await runtime.reconcile()).find((s) => s.replicaId === handle.replicaId);
        expect(status?.endpoints?.http).toEqual(endpoint);
        await runtime.stop(handle.replicaId, { graceMs: 200 });
      });

      it("keeps volumes across replicas until deleteVolume, which waits for no user", {
        timeout: timeout(),
      }, async (context) => {
        if (!target.capabilities?.workspaces) return context.skip();
        const volume = `ct-vol-${process.pid}-${n++}`;
        const volumes = [{ name: volume, mountPath: "/home/ada" }];
        const user = { name: "ada", home: "/home/ada" };
        const writer = await runtime.start(
          spec({
            jobId: jobId("vol"),
            kind: "workspace",
            volumes,
            user,
            command: sh('echo kept > /home/ada/notes.txt; echo "$(id -un) $HOME"; sleep 60'),
          }),
        );
        expect(await untilOutput(writer.replicaId, "ada")).toBe("ada /home/ada\n");
        await expect(runtime.deleteVolume(volume)).rejects.toBeInstanceOf(ConflictError);
        await runtime.stop(writer.replicaId, { graceMs: 200 });
        const reader = await runtime.start(
          spec({
            jobId: jobId("vol"),
            kind: "workspace",
            volumes,
            user,
            command: sh("cat /home/ada/notes.txt"),
          }),
        );
        await reader.exited;
        expect((await collect(runtime.logs(reader.replicaId))).stdout).toBe("kept\n");
        await runtime.deleteVolume(volume);
        await runtime.deleteVolume(volume); // idempotent
        const fresh = await runtime.start(
          spec({ jobId: jobId("vol"), kind: "workspace", volumes, user, command: sh("ls -A /home/ada") }),
        );
        await fresh.exited;
        expect((await collect(runtime.logs(fresh.replicaId))).stdout).toBe("");
        await expect(runtime.deleteVolume("../etc")).rejects.toBeInstanceOf(InputError);
      });
    });
  });
}

/** Packs a one-file code archive into `artifacts` for ContractTarget.code. */
export async function packContractCode(
  artifacts: ArtifactStore,
  scratchDir: string,
): Promise<{ digest: string; file: string; content: string }> {
  const dir = path.join(scratchDir, "contract-code");
  mkdirSync(path.join(dir, "src"), { recursive: true });
  const content = "code from the archive\n";
  writeFileSync(path.join(dir, "src", "hello.txt"), content);
  const { sha256 } = await artifacts.put((await packDirectory(dir)).stream);
  return { digest: sha256, file: "src/hello.txt", content };
}
