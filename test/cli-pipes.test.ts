import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliArgs, REPO_ROOT } from "./support/processes.js";
import { startTestServer, type TestServer } from "./support/server.js";

/** `mlops ARGS | head -1` through a real shell pipe: the CLI's exit status, its stderr, what head printed. */
function pipeToHead(
  args: string[],
  env: Record<string, string>,
): Promise<{ cli: number; head: string; stderr: string }> {
  const quoted = [process.execPath, ...cliArgs(args)].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(" ");
  return new Promise((resolve, reject) => {
    const shell = spawn(
      "bash",
      ["-c", `${quoted} 2>"$CLI_STDERR" | head -n 1; echo "cli=\${PIPESTATUS[0]}"`],
      {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
      },
    );
    let out = "";
    shell.stdout.on("data", (d) => {
      out += d.toString();
    });
    shell.on("error", reject);
    shell.on("close", () => {
      const status = /cli=(\d+)\s*$/.exec(out);
      resolve({
        cli: status ? Number(status[1]) : -1,
        head: out.slice(0, status?.index ?? out.length),
        stderr: readFileSync(env.CLI_STDERR, "utf8"),
      });
    });
  });
}

describe("CLI output into a closed pipe (docs: README, CLI)", () => {
  let server: TestServer;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    dir = mkdtempSync(path.join(os.tmpdir(), "mlops-pipe-"));
    env = {
      MLOPS_URL: server.url,
      MLOPS_TOKEN: server.adminToken,
      MLOPS_CONFIG_DIR: dir,
      CLI_STDERR: path.join(dir, "stderr"),
    };
    const exp = (await server.call("POST", "/api/v1/experiments", { name: "many-runs" })).body as {
      id: string;
    };
    // Far more than a pipe buffer (64 KiB) of output, so the CLI is still writing when head has gone.
    for (let batch = 0; batch < 10; batch++) {
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          server.call("POST", "/api/v1/runs", {
            experimentId: exp.id,
            name: `run-${batch}-${i}-${"x".repeat(200)}`,
          }),
        ),
      );
    }
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("`mlops run list | head -1` prints the header and exits 0 without an EPIPE error", async () => {
    const result = await pipeToHead(["run", "list", "--experiment", "many-runs", "--max", "1000"], env);
    expect(result.head).toMatch(/^ID\s+NAME\s+STATUS/);
    expect(result.stderr).toBe("");
    expect(result.cli).toBe(0);
  });

  it("`mlops --json run list | head -1` (one large write) exits 0 without an EPIPE error", async () => {
    const result = await pipeToHead(
      ["--json", "run", "list", "--experiment", "many-runs", "--max", "1000"],
      env,
    );
    expect(result.head).toBe("{\n");
    expect(result.stderr).toBe("");
    expect(result.cli).toBe(0);
  });
});
