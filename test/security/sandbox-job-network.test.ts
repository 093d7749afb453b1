import { afterAll, beforeAll, expect, it } from "vitest";
import { logsOf, SMALL, startJobServer, submit, waitForState } from "../jobs-helpers.js";
import type { TestServer } from "../support/server.js";
import { describeSandboxed } from "./sandbox-support.js";

/**
 * A job chooses its network through the API (docs/security.md): `network: "none"` gives its replicas an
 * empty network namespace, so it cannot reach the control plane that the same job reaches with "host".
 */
const probe = [
  "python3",
  "-c",
  [
    "import os, urllib.request",
    "try:",
    "    urllib.request.urlopen(os.environ['MLOPS_API_URL'] + '/healthz', timeout=3).read()",
    "    print('REACHED')",
    "except Exception as e:",
    "    print('UNREACHABLE', type(e).__name__)",
  ].join("\n"),
];

describeSandboxed("job network chosen per job", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startJobServer("sqlite");
  }, 60_000);
  afterAll(async () => server?.stop());

  it("refuses an unknown network mode and creates nothing", async () => {
    const before = (await server.call("GET", "/api/v1/jobs")).body as { jobs: unknown[] };
    const bad = await server.call("POST", "/api/v1/jobs", { command: ["true"], network: "bridge" });
    expect(bad.status).toBe(400);
    const after = (await server.call("GET", "/api/v1/jobs")).body as { jobs: unknown[] };
    expect(after.jobs).toHaveLength(before.jobs.length);
  });

  it("network none cannot reach the API that network host reaches", async () => {
    const host = await submit(server, { command: probe, resources: SMALL, network: "host" });
    const none = await submit(server, { command: probe, resources: SMALL, network: "none" });
    expect((none as unknown as { network?: string }).network).toBe("none");
    await waitForState(server, host.id, "succeeded", 60_000);
    await waitForState(server, none.id, "succeeded", 60_000);
    expect(await logsOf(server, host.id)).toContain("REACHED");
    const isolated = await logsOf(server, none.id);
    expect(isolated).toContain("UNREACHABLE");
    expect(isolated).not.toContain("REACHED\n");
  }, 120_000);
});
