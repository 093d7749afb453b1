import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { LocalArtifactStore } from "../../src/artifacts/local-artifact-store.js";
import { DEFAULT_GPU_PRODUCTS } from "../../src/runtime/kubernetes/gpu-products.js";
import { KubernetesRuntime } from "../../src/runtime/kubernetes/kubernetes-runtime.js";
import type { ReplicaSpec } from "../../src/runtime/runtime.js";
import { FakeKubelet } from "../support/fake-kubelet.js";
import { packContractCode, runtimeContractSuite } from "./contract-suite.js";

/**
 * The contract suite on the Kubernetes runtime against a FAKE API server with a FAKE kubelet
 * (test/support/fake-kubelet.ts): the runtime creates real API objects (schema-validated), and the Pods'
 * containers run as local processes: the code-fetching init container (python3) against a stand-in for
 * the platform's `GET /api/v1/jobs/:id/code` (the job token checked), then the real rank launcher under sh.
 * What this does not show: images, DNS of the headless Service, NCCL/gloo between Pods, Kueue, the device
 * plugin — that needs a live cluster (none was available). Workspaces (ports reachable from the test,
 * volumes) and usage() are not claimed here.
 */
const TOKEN = "mlops_contract_token_k8s";

runtimeContractSuite("kubernetes (fake API server + fake kubelet)", async () => {
  const scratch = mkdtempSync(path.join(os.tmpdir(), "contract-k8s-"));
  const artifacts = await LocalArtifactStore.create({ dataDir: scratch });
  const code = await packContractCode(artifacts, scratch);
  // Stand-in for the control plane's code download (the route the platform serves to job tokens).
  const server = createServer((req, res) => {
    const match = /^\/api\/v1\/jobs\/[^/]+\/code$/.exec(req.url ?? "");
    if (!match || req.headers.authorization !== `Bearer ${TOKEN}`) {
      res.writeHead(match ? 401 : 404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/octet-stream" });
    artifacts.get(code.digest).then(
      (stream) => pipeline(stream, res).catch(() => res.destroy()),
      () => res.destroy(),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const kubelet = new FakeKubelet();
  const open = () =>
    new KubernetesRuntime({
      api: kubelet,
      context: {
        namespace: "mlops",
        workloadImage: "workload:test",
        apiUrl,
        gpuProducts: DEFAULT_GPU_PRODUCTS,
        kueue: false,
        workVolumeSize: "1Gi",
      },
      workspace: { serviceType: "NodePort", volumeSize: "1Gi" },
      pollMs: 20,
    });
  const opened = [open()];
  return {
    runtime: opened[0],
    restart: async () => {
      const next = open();
      opened.push(next);
      return next;
    },
    specFor: (partial): ReplicaSpec => ({
      attempt: 0,
      replicaIndex: 0,
      timeoutSeconds: null,
      resources: { cpu: 0.5, memoryMiB: 256, gpus: 0 },
      ...partial,
      // What the platform always sets: its URL and the job token (masked, so it goes into the Secret).
      env: { MLOPS_API_URL: apiUrl, MLOPS_TOKEN: TOKEN, ...partial.env },
      maskInLogs: [TOKEN, ...(partial.maskInLogs ?? [])],
    }),
    cleanup: async () => {
      for (const runtime of opened) await runtime.close();
      kubelet.close();
      server.close();
      rmSync(scratch, { recursive: true, force: true });
    },
    code,
    capabilities: { workspaces: false, usage: false, gangMemberStop: false },
    slackMs: 3000,
    testTimeoutMs: 30_000,
  };
});
