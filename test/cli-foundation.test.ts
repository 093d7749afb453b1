import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCliProcess } from "./support/cli.js";
import { startTestServer, TEST_ADMIN_TOKEN, type TestServer } from "./support/server.js";

describe("mlops CLI (real processes against a real server)", () => {
  let server: TestServer;
  let configDir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    configDir = mkdtempSync(path.join(os.tmpdir(), "mlops-cli-"));
    env = { MLOPS_CONFIG_DIR: configDir };
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(configDir, { recursive: true, force: true });
  });

  it("prints help with every foundation command", async () => {
    const result = await runCliProcess(["--help"], env);
    expect(result.code).toBe(0);
    for (const cmd of ["server", "login", "whoami", "user", "token", "project", "audit"])
      expect(result.stdout).toContain(cmd);
  });

  it("logs in, stores credentials with mode 0600, and uses them", async () => {
    const login = await runCliProcess(["login", "--url", server.url, "--token", TEST_ADMIN_TOKEN], env);
    expect(login.code, login.stderr).toBe(0);
    const file = path.join(configDir, "credentials.json");
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual({ url: server.url, token: TEST_ADMIN_TOKEN });
    const who = await runCliProcess(["whoami", "--json"], env);
    expect(who.code).toBe(0);
    expect(JSON.parse(who.stdout)).toMatchObject({ user: { name: "admin", role: "admin" } });
  });

  it("creates users, tokens and projects; lists and revokes; --json everywhere", async () => {
    expect((await runCliProcess(["user", "create", "carol", "--role", "engineer"], env)).code).toBe(0);
    const created = await runCliProcess(
      ["token", "create", "--name", "ci", "--user", "carol", "--json"],
      env,
    );
    expect(created.code).toBe(0);
    const issued = JSON.parse(created.stdout) as { token: string; info: { id: string } };
    expect(issued.token).toMatch(/^mlops_/);

    // MLOPS_URL / MLOPS_TOKEN override the stored (admin) login.
    const asCarol = { ...env, MLOPS_URL: server.url, MLOPS_TOKEN: issued.token };
    const who = await runCliProcess(["whoami", "--json"], asCarol);
    expect(JSON.parse(who.stdout).user.name).toBe("carol");
    expect(
      (await runCliProcess(["project", "create", "detect", "--description", "boxes"], asCarol)).code,
    ).toBe(0);
    const projects = JSON.parse(
      (await runCliProcess(["project", "list", "--json"], asCarol)).stdout,
    ) as Array<{ name: string }>;
    expect(projects.map((p) => p.name)).toEqual(["default", "detect"]);
    const members = await runCliProcess(["project", "members", "detect"], asCarol);
    expect(members.stdout).toMatch(/carol\s+engineer/);

    const tokens = JSON.parse(
      (await runCliProcess(["token", "list", "--user", "carol", "--json"], env)).stdout,
    ) as Array<{ id: string }>;
    expect(tokens.map((t) => t.id)).toContain(issued.info.id);
    expect((await runCliProcess(["token", "revoke", issued.info.id], env)).code).toBe(0);
    const denied = await runCliProcess(["whoami"], asCarol);
    expect(denied.code).toBe(3);
    expect(denied.stderr.trim()).toBe("error: invalid or revoked API token");
  });

  it("fails with meaningful exit codes and a one-line reason", async () => {
    const forbidden = await runCliProcess(["user", "create", "x"], {
      ...env,
      MLOPS_URL: server.url,
      MLOPS_TOKEN: "mlops_wrong",
    });
    expect(forbidden.code).toBe(3);
    const missing = await runCliProcess(["project", "members", "does-not-exist"], env);
    expect(missing.code).toBe(4);
    expect(missing.stderr).toBe("error: project does-not-exist not found\n");
    const unreachable = await runCliProcess(["whoami"], {
      ...env,
      MLOPS_URL: "http://127.0.0.1:1",
      MLOPS_TOKEN: "x",
    });
    expect(unreachable.code).toBe(6);
    expect(unreachable.stderr).toMatch(/^error: cannot reach http:\/\/127\.0\.0\.1:1/);
    const usage = await runCliProcess(["user", "create"], env);
    expect(usage.code).toBe(2);
    const noLogin = await runCliProcess(["whoami"], { MLOPS_CONFIG_DIR: path.join(configDir, "empty") });
    expect(noLogin.code).toBe(3);
    expect(noLogin.stderr).toMatch(/not logged in/);
  });

  it("shows the audit log", async () => {
    const audit = await runCliProcess(["audit", "--action", "user.create", "--json"], env);
    expect(audit.code).toBe(0);
    const page = JSON.parse(audit.stdout) as { events: Array<{ details: { name: string } }> };
    expect(page.events.map((e) => e.details.name)).toContain("carol");
  });
});
