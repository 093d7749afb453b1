import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClientNodeKubeApi } from "../src/runtime/kubernetes/client-node-api.js";
import { KubeApiError } from "../src/runtime/kubernetes/kube-api.js";

// The adapter over @kubernetes/client-node against a small HTTP stand-in for the API server (no cluster
// here): it checks the requests the real client library sends (paths, verbs, query, bodies) and that
// replies come back as plain JSON (RFC 3339 strings, not Date objects) and errors as KubeApiError.
const requests: Array<{ method: string; url: string; body: string; auth?: string }> = [];
let server: Server;
let api: ClientNodeKubeApi;

const RESOURCES: Record<string, Array<{ name: string; kind: string }>> = {
  "/api/v1": [
    { name: "pods", kind: "Pod" },
    { name: "services", kind: "Service" },
    { name: "secrets", kind: "Secret" },
    { name: "persistentvolumeclaims", kind: "PersistentVolumeClaim" },
  ],
  "/apis/batch/v1": [{ name: "jobs", kind: "Job" }],
};

async function body(req: IncomingMessage): Promise<string> {
  let text = "";
  for await (const chunk of req) text += chunk;
  return text;
}

beforeAll(async () => {
  server = createServer(async (req, res) => {
    const text = await body(req);
    requests.push({ method: req.method!, url: req.url!, body: text, auth: req.headers.authorization });
    const url = new URL(req.url!, "http://x");
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { "content-type": "application/json" });
      res.end(JSON.stringify(value));
    };
    if (req.method === "GET" && RESOURCES[url.pathname]) {
      const groupVersion = url.pathname === "/api/v1" ? "v1" : "batch/v1";
      return json(200, {
        kind: "APIResourceList",
        groupVersion,
        resources: RESOURCES[url.pathname].map((r) => ({
          ...r,
          namespaced: true,
          singularName: "",
          verbs: ["get"],
        })),
      });
    }
    if (url.pathname === "/apis") {
      return json(200, {
        kind: "APIGroupList",
        groups: [{ name: "kueue.x-k8s.io", versions: [], preferredVersion: {} }],
      });
    }
    if (url.pathname === "/api/v1/nodes") {
      return json(200, {
        kind: "NodeList",
        items: [{ metadata: { name: "n1", creationTimestamp: "2026-01-02T03:04:05Z" } }],
      });
    }
    if (url.pathname === "/api/v1/namespaces/mlops/pods/p-0/log") {
      res.writeHead(200, { "content-type": "text/plain" });
      return res.end("0o|hello\n");
    }
    if (req.method === "POST" && url.pathname === "/apis/batch/v1/namespaces/mlops/jobs") {
      const job = JSON.parse(text);
      return json(201, {
        ...job,
        metadata: { ...job.metadata, uid: "u-1", creationTimestamp: "2026-01-02T03:04:05Z" },
      });
    }
    if (req.method === "GET" && url.pathname === "/apis/batch/v1/namespaces/mlops/jobs") {
      return json(200, {
        kind: "JobList",
        metadata: {},
        items: [{ metadata: { name: "j1" }, status: { startTime: "2026-01-02T03:04:05Z" } }],
      });
    }
    if (url.pathname === "/apis/batch/v1/namespaces/mlops/jobs/missing") {
      return json(404, {
        kind: "Status",
        status: "Failure",
        code: 404,
        reason: "NotFound",
        message: 'jobs.batch "missing" not found',
      });
    }
    if (req.method === "DELETE") return json(200, { kind: "Status", status: "Success" });
    return json(403, {
      kind: "Status",
      status: "Failure",
      code: 403,
      reason: "Forbidden",
      message: "forbidden here",
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const config = new KubeConfig();
  config.loadFromOptions({
    clusters: [
      {
        name: "c",
        server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        skipTLSVerify: true,
      },
    ],
    users: [{ name: "u", token: "runtime-token" }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  api = new ClientNodeKubeApi(config, "mlops");
});

afterAll(() => server.close());

describe("ClientNodeKubeApi (client-node 1.x against an HTTP stand-in)", () => {
  it("creates in the runtime's namespace and returns plain JSON", async () => {
    const job = await api.create("Job", {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "j1" },
      spec: { template: {} },
    });
    expect(job.metadata).toMatchObject({ name: "j1", namespace: "mlops", uid: "u-1" });
    expect(typeof job.metadata!.creationTimestamp).toBe("string");
    const post = requests.find((r) => r.method === "POST")!;
    expect(post.url).toMatch(/^\/apis\/batch\/v1\/namespaces\/mlops\/jobs/);
    expect(JSON.parse(post.body).metadata.namespace).toBe("mlops");
    expect(post.auth).toBe("Bearer runtime-token");
  });

  it("lists by label selector, reads a missing object as null, deletes with propagation and grace", async () => {
    const jobs = await api.list("Job", "app.kubernetes.io/managed-by=mlops-platform");
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ apiVersion: "batch/v1", kind: "Job", metadata: { name: "j1" } });
    expect(typeof jobs[0].status?.startTime).toBe("string");
    expect(Date.parse(jobs[0].status!.startTime!)).toBe(Date.parse("2026-01-02T03:04:05Z"));
    const list = requests.find(
      (r) => r.method === "GET" && r.url.startsWith("/apis/batch/v1/namespaces/mlops/jobs?"),
    )!;
    expect(new URL(list.url, "http://x").searchParams.get("labelSelector")).toBe(
      "app.kubernetes.io/managed-by=mlops-platform",
    );
    expect(await api.get("Job", "missing")).toBeNull();
    expect(await api.delete("Job", "j1", { propagationPolicy: "Foreground", gracePeriodSeconds: 7 })).toBe(
      true,
    );
    const del = requests.find((r) => r.method === "DELETE")!;
    expect(del.url).toMatch(/^\/apis\/batch\/v1\/namespaces\/mlops\/jobs\/j1/);
    const query = new URL(del.url, "http://x").searchParams;
    expect(query.get("propagationPolicy") ?? JSON.parse(del.body || "{}").propagationPolicy).toBe(
      "Foreground",
    );
    expect(query.get("gracePeriodSeconds") ?? String(JSON.parse(del.body || "{}").gracePeriodSeconds)).toBe(
      "7",
    );
  });

  it("reads Pod logs of one container, nodes, API groups; errors carry the status", async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of api.podLog("p-0", { container: "workload", follow: true }))
      chunks.push(Buffer.from(chunk));
    expect(Buffer.concat(chunks).toString()).toBe("0o|hello\n");
    const log = requests.find((r) => r.url.includes("/log"))!;
    expect(new URL(log.url, "http://x").searchParams.get("container")).toBe("workload");
    expect(new URL(log.url, "http://x").searchParams.get("follow")).toBe("true");
    expect((await api.listNodes())[0].metadata?.name).toBe("n1");
    expect(await api.hasApiGroup("kueue.x-k8s.io")).toBe(true);
    expect(await api.hasApiGroup("scheduling.volcano.sh")).toBe(false);
    const err = await api
      .create("Secret", { apiVersion: "v1", kind: "Secret", metadata: { name: "s" } })
      .catch((e) => e);
    expect(err).toBeInstanceOf(KubeApiError);
    expect(err.status).toBe(403);
  });
});
