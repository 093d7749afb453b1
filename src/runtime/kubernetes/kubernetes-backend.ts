import { parseGpuDeclaration } from "../../jobs/gpu-inventory.js";
import type { WorkloadInventory } from "../../jobs/inventory.js";
import type { WorkloadBackend } from "../backend.js";
import type { BackendDeps } from "../backends.js";
import { ClientNodeKubeApi, loadKubeConfig } from "./client-node-api.js";
import { parseGpuProducts } from "./gpu-products.js";
import type { KubeApi } from "./kube-api.js";
import { KubernetesRuntime } from "./kubernetes-runtime.js";
import { inventoryFromNodes, productsOnNodes } from "./node-inventory.js";
import type { ManifestContext } from "./pod-template.js";

/** Kubernetes backend (MLOPS_RUNTIME=kubernetes; docs/architecture/kubernetes-runtime.md). */
export async function createKubernetesBackend(deps: BackendDeps): Promise<WorkloadBackend> {
  const { config } = deps;
  const api = new ClientNodeKubeApi(loadKubeConfig(config.kubeconfig), config.kubernetesNamespace);
  return createKubernetesBackendOn(api, deps);
}

/** The backend over any KubeApi (the cluster's, or the tests' fake). */
export async function createKubernetesBackendOn(
  api: KubeApi,
  deps: BackendDeps,
  options: { pollMs?: number } = {},
): Promise<WorkloadBackend> {
  const { config } = deps;
  const gpuProducts = parseGpuProducts(config.kubernetesGpuProducts);
  const kueue =
    config.kubernetesKueue === "auto"
      ? await api.hasApiGroup("kueue.x-k8s.io")
      : config.kubernetesKueue === "on";
  const context: ManifestContext = {
    namespace: config.kubernetesNamespace,
    workloadImage: config.workloadImage,
    // Known once the server listens, so read at each start.
    get apiUrl() {
      return deps.apiUrl();
    },
    gpuProducts,
    kueue,
    workVolumeSize: config.kubernetesVolumeSize,
  };
  const readInventory = async (): Promise<WorkloadInventory> => {
    const nodes = await api.listNodes();
    context.seenProducts = productsOnNodes(nodes);
    return inventoryFromNodes(nodes, gpuProducts);
  };
  let inventory: WorkloadInventory;
  let refresh = true;
  try {
    inventory = await readInventory();
  } catch (err) {
    // Listing nodes needs a ClusterRole (get/list nodes); without it, GPUs declared with MLOPS_GPUS count.
    if (!config.gpus) {
      throw new Error(
        `MLOPS_RUNTIME=kubernetes: cannot list the cluster's nodes (${(err as Error).message}); grant the runtime's ServiceAccount get/list on nodes, or declare the cluster's GPUs with MLOPS_GPUS`,
      );
    }
    // One stand-in node: the cluster places, so only the GPU count per type matters for admission;
    // CPU and memory are not known, so they do not limit it.
    const gpus = parseGpuDeclaration(config.gpus);
    inventory = { source: "declared", nodes: [{ id: "cluster", cpu: 1e6, memoryMiB: 1e9, gpus }] };
    refresh = false;
  }
  const runtime = new KubernetesRuntime({
    api,
    context,
    workspace: { serviceType: config.kubernetesWorkspaceService, volumeSize: config.kubernetesVolumeSize },
    workspaceSshHost: config.workspaceSshHost,
    pollMs: options.pollMs,
  });
  const backend: WorkloadBackend = {
    runtime,
    inventory,
    ...(refresh
      ? {
          refreshInventory: async () => {
            backend.inventory = await readInventory();
            return backend.inventory;
          },
        }
      : {}),
    close: () => runtime.close(),
  };
  return backend;
}
