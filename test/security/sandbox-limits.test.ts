import { chmodSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LocalRuntime } from "../../src/runtime/local/local-runtime.js";
import {
  createRuntime,
  makeLayout,
  readAll,
  spec,
  type TestLayout,
  workDirOf,
} from "../support/runtime-harness.js";
import type { ReplicaSpec } from "../../src/runtime/runtime.js";
import { describeSandboxed } from "./sandbox-support.js";

const PYTHON = "/usr/bin/python3";
/** Maps 3x the replica's memory as MAP_SHARED (not counted by RLIMIT_DATA) and touches every page. */
const SHARED_MMAP_HOG = [
  PYTHON,
  "-c",
  [
    "import mmap, sys",
    "size = int(sys.argv[1]) << 20",
    "m = mmap.mmap(-1, size, flags=mmap.MAP_SHARED)",
    "for i in range(0, size, 4096): m[i] = 1",
    "print('touched all of it', flush=True)",
  ].join("\n"),
];

/**
 * What a job inside the sandbox is and is not allowed (docs/security.md, job sandbox): an unprivileged
 * uid, its own dir writable, no network when asked, memory (shared mmap included), process count and
 * /tmp bounded, its token never in the stored logs, its env delivered byte for byte and never executed.
 */
describeSandboxed("security: job sandbox limits", () => {
  let layout: TestLayout;
  let runtime: LocalRuntime;
  let rootOnly: string;
  let n = 0;

  beforeAll(async () => {
    layout = makeLayout("sandbox-limits-");
    chmodSync(layout.root, 0o755);
    const shared = path.join(layout.root, "shared");
    mkdirSync(shared, { mode: 0o755 });
    rootOnly = path.join(shared, "root-only.txt");
    writeFileSync(rootOnly, "root's secret", { mode: 0o600 });
    runtime = await createRuntime(layout, { readOnlyPaths: [shared], maxProcesses: 64, maxTmpMiB: 32 });
    expect(runtime.describe().sandbox).toBe("bubblewrap");
  });
  afterAll(async () => {
    await runtime.close();
    layout.cleanup();
  });

  async function run(command: string[], extra: Partial<ReplicaSpec> = {}, on: LocalRuntime = runtime) {
    const s = spec(layout, `lim-${n++}`, command, extra);
    const handle = await on.start(s);
    const exit = await handle.exited;
    const logs = await readAll(on.logs(handle.replicaId));
    return {
      exit,
      stdout: logs.stdout.toString(),
      stderr: logs.stderr.toString(),
      workDir: workDirOf(layout, s.jobId),
    };
  }

  it("runs as uid 65534: /etc/shadow and root-only files unreadable, its own dir and outputs writable", async () => {
    const script = [
      "id -u",
      "cat /etc/shadow >/dev/null 2>&1 && echo SHADOW-READ",
      `cat ${rootOnly} 2>/dev/null && echo ROOT-FILE-READ`,
      "grep CapEff /proc/self/status",
      'mkdir -p mlops-output && echo out > mlops-output/model.txt && echo written > "$PWD/abs.txt"',
      "echo tmp > /tmp/x && cat /tmp/x",
    ].join("; ");
    const result = await run(["/bin/sh", "-c", script]);
    expect(result.exit.exitCode, result.stderr).toBe(0);
    expect(result.stdout).toContain("65534\n");
    expect(result.stdout).not.toContain("SHADOW-READ");
    expect(result.stdout).not.toContain("ROOT-FILE-READ");
    expect(result.stdout).not.toContain("root's secret");
    expect(result.stdout).toMatch(/CapEff:\s+0+\n/);
    expect(result.stdout).toContain("tmp\n");
    expect(readFileSync(path.join(result.workDir, "mlops-output", "model.txt"), "utf8")).toBe("out\n");
    expect(statSync(path.join(result.workDir, "abs.txt")).uid).toBe(65534);
  });

  it("trains a small PyTorch model as the unprivileged uid and saves it", async () => {
    const train = [
      "import torch",
      "torch.manual_seed(0)",
      "x = torch.randn(256, 8); y = (x.sum(1, keepdim=True) > 0).float()",
      "model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 1))",
      "opt = torch.optim.SGD(model.parameters(), lr=0.5)",
      "for _ in range(50):",
      "    opt.zero_grad(); loss = torch.nn.functional.binary_cross_entropy_with_logits(model(x), y)",
      "    loss.backward(); opt.step()",
      "torch.save(model.state_dict(), 'mlops-output/model.pt')",
      "print(f'loss {loss.item():.3f}')",
    ].join("\n");
    const result = await run(["/bin/sh", "-c", `mkdir -p mlops-output && ${PYTHON} -c "$0"`, train], {
      resources: { cpu: 1, memoryMiB: 2048, gpus: 0 },
    });
    expect(result.exit.exitCode, result.stderr).toBe(0);
    expect(Number(/loss (\d\.\d+)/.exec(result.stdout)?.[1])).toBeLessThan(0.5);
    expect(existsSync(path.join(result.workDir, "mlops-output", "model.pt"))).toBe(true);
  }, 60_000);

  it("network none: cannot reach a host port that network host reaches", async () => {
    const server = net.createServer((socket) => socket.end("hello\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const connect = [
      PYTHON,
      "-c",
      `import socket\ns = socket.create_connection(("127.0.0.1", ${port}), timeout=3)\nprint(s.recv(10).decode().strip())`,
    ];
    try {
      const host = await run(connect, { network: "host" });
      expect(host.stdout).toBe("hello\n");
      const none = await run(connect, { network: "none" });
      expect(none.exit.exitCode).not.toBe(0);
      expect(none.stdout).toBe("");
      expect(none.stderr).toMatch(/Connection refused|Network is unreachable/);
    } finally {
      server.close();
    }
  });

  it("shared mmap cannot get past the memory limit", async () => {
    const result = await run([...SHARED_MMAP_HOG, "384"], { resources: { cpu: 1, memoryMiB: 128, gpus: 0 } });
    expect(result.stdout).not.toContain("touched all of it");
    expect(result.exit.exitCode === 0 && result.exit.signal === null).toBe(false);
    if (runtime.describe().memoryLimit === "cgroup") expect(result.exit.message).toMatch(/out of memory/);
  });

  it("a fork bomb stops at the process limit", async () => {
    const result = await run(
      ["/bin/sh", "-c", "for i in $(seq 200); do sleep 5 & done 2>&1; echo forked-all"],
      {
        timeoutSeconds: 20,
      },
    );
    expect(result.stdout).not.toContain("forked-all");
    expect(`${result.stdout}${result.stderr}`).toMatch(/fork|Resource temporarily unavailable/i);
  });

  it("/tmp and /dev/shm are size-limited (RAM-backed, counted in the memory limit)", async () => {
    const script = [
      "head -c 40000000 /dev/zero > /tmp/big 2>/dev/null || echo tmp-full",
      "head -c 40000000 /dev/zero > /dev/shm/big 2>/dev/null || echo shm-full",
    ].join("; ");
    const result = await run(["/bin/sh", "-c", script], { resources: { cpu: 1, memoryMiB: 512, gpus: 0 } });
    expect(result.stdout).toBe("tmp-full\nshm-full\n");
  });

  it("writes the job's token as *** in the stored logs, also when printed in pieces", async () => {
    const token = "mlops_wl-0123456789abcdefghijklmnopqrstuv";
    const script = [
      'echo "whole=$MLOPS_TOKEN"',
      'printf "split=%s" "$(printf %s "$MLOPS_TOKEN" | cut -c1-10)"',
      "sleep 0.3",
      'printf "%s end\\n" "$(printf %s "$MLOPS_TOKEN" | cut -c11-)"',
      'echo "err=$MLOPS_TOKEN" >&2',
    ].join("; ");
    const result = await run(["/bin/sh", "-c", script], {
      env: { MLOPS_TOKEN: token },
      maskInLogs: [token],
    });
    expect(result.stdout).toBe("whole=***\nsplit=*** end\n");
    expect(result.stderr).toBe("err=***\n");
  });

  it("delivers env values byte for byte and never executes them", async () => {
    const nasty = `a'b"c $(touch pwned) \`touch pwned2\` ; touch pwned3\nline2 \\ $HOME`;
    const result = await run(["/bin/sh", "-c", 'printf "%s" "$NASTY"; ls'], { env: { NASTY: nasty } });
    expect(result.stdout.startsWith(nasty)).toBe(true);
    expect(result.stdout.slice(nasty.length)).not.toMatch(/pwned/);
    expect(existsSync(path.join(result.workDir, "pwned"))).toBe(false);
  });

  describe("without cgroups (rlimits)", () => {
    let fallback: LocalRuntime;
    beforeAll(async () => {
      fallback = await createRuntime(layout, { cgroups: false, maxProcesses: 64 });
      expect(fallback.describe().memoryLimit).toBe("rlimit");
    });
    afterAll(async () => fallback.close());

    it("RLIMIT_AS stops shared mmap on a CPU replica", async () => {
      const result = await run(
        [...SHARED_MMAP_HOG, "384"],
        { resources: { cpu: 1, memoryMiB: 256, gpus: 0 } },
        fallback,
      );
      expect(result.stdout).not.toContain("touched all of it");
      expect(result.stderr).toMatch(/MemoryError|Cannot allocate memory|mmap/);
    });

    it("RLIMIT_NPROC stops a fork bomb", async () => {
      const command = ["/bin/sh", "-c", "for i in $(seq 200); do sleep 5 & done 2>&1; echo forked-all"];
      const result = await run(command, { timeoutSeconds: 20 }, fallback);
      expect(result.stdout).not.toContain("forked-all");
    });
  });
});
