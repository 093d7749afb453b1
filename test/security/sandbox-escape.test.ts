import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, expect, it } from "vitest";
import { logsOf, SMALL, startJobServer, submit, uploadCode, waitForState } from "../jobs-helpers.js";
import { describeEachDatabase } from "../support/databases.js";
import type { TestServer } from "../support/server.js";
import { describeSandboxed } from "./sandbox-support.js";

const EVIL_SOURCE = fileURLToPath(new URL("../fixtures/attacks/evil-preload.c", import.meta.url));
const DECOY_SECRET = "mlops_decoy-admin-token-do-not-leak-0123456789";

/**
 * Critical finding of issue 9 (docs/security.md, job sandbox): a job's `--env LD_PRELOAD=./evil.so`
 * must never reach a host-side process (prlimit, bubblewrap, setpriv, the supervisor). The library is
 * compiled here and shipped in the job's code; it runs — but only inside the sandbox, as uid 65534,
 * where it can neither write outside, nor read the database, nor find any host process's environment.
 */
describeSandboxed(
  "security: LD_PRELOAD in a job's env cannot escape the sandbox",
  () => {
    describeEachDatabase("the LD_PRELOAD attack", (kind) => {
      let server: TestServer;
      let code: string;
      let outside: string;
      let decoy: ChildProcess;

      beforeAll(async () => {
        outside = mkdtempSync(path.join(os.tmpdir(), "evil-outside-"));
        const codeDir = mkdtempSync(path.join(os.tmpdir(), "evil-code-"));
        execFileSync("cc", ["-shared", "-fPIC", "-o", path.join(codeDir, "evil.so"), EVIL_SOURCE]);
        copyFileSync(EVIL_SOURCE, path.join(codeDir, "evil-preload.c"));
        // A host process holding an admin token in its environment, as the server's own would.
        decoy = spawn("sleep", ["600"], { env: { PATH: "/usr/bin:/bin", MLOPS_ADMIN_TOKEN: DECOY_SECRET } });
        server = await startJobServer(kind);
        expect(server.platform.runtime.describe().sandbox).toBe("bubblewrap");
        code = await uploadCode(server, codeDir);
        rmSync(codeDir, { recursive: true, force: true });
      });
      afterAll(async () => {
        decoy?.kill("SIGKILL");
        await server?.stop();
        rmSync(outside, { recursive: true, force: true });
      });

      it("runs the library only inside, unprivileged, and nothing it tries works", async () => {
        const marker = path.join(outside, "escaped");
        const job = await submit(server, {
          name: "evil",
          command: ["sh", "-c", 'echo "job ran as $(id -u)"; env | grep -c MLOPS_ADMIN_TOKEN; exit 0'],
          codeDigest: code,
          env: {
            LD_PRELOAD: "./evil.so",
            EVIL_MARKER: marker,
            EVIL_DB: path.join(server.dataDir, "mlops.db"),
            EVIL_DATADIR: server.dataDir,
          },
          resources: SMALL,
        });
        const ended = await waitForState(server, job.id, ["succeeded", "failed"], 30_000);
        const logs = await logsOf(server, job.id);
        expect(ended.job.state, logs).toBe("succeeded");
        // The attack did run (so the test could fail)...
        expect(logs).toMatch(/\[evil\] pid=\d+ uid=65534 loaded into/);
        expect(logs).toContain("job ran as 65534");
        // ...never as any other uid (a host-side launcher runs as root)...
        expect(logs).not.toMatch(/\[evil\] pid=\d+ uid=(?!65534 )\d+/);
        // ...and achieved nothing.
        expect(logs).not.toContain("ESCAPED");
        expect(existsSync(marker)).toBe(false);
        expect(readdirSync(outside)).toEqual([]);
        expect(logs).not.toContain(DECOY_SECRET);
        expect(logs).not.toContain(server.adminToken);
        // The job's own environment holds no admin token either.
        expect(logs).toMatch(/^0$/m);
      }, 40_000);

      it("a NUL byte in an env value (argument injection) is refused with 400 and no job", async () => {
        const before = ((await server.call("GET", "/api/v1/jobs")).body as { jobs: unknown[] }).jobs.length;
        const reply = await server.call("POST", "/api/v1/jobs", {
          command: ["true"],
          env: { X: "a\u0000--bind\u0000/\u0000/" },
          resources: SMALL,
        });
        expect(reply.status).toBe(400);
        const after = ((await server.call("GET", "/api/v1/jobs")).body as { jobs: unknown[] }).jobs.length;
        expect(after).toBe(before);
      });
    });
  },
  { compiler: true },
);
