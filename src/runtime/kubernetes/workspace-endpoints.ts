import { setTimeout as sleep } from "node:timers/promises";
import type { IService } from "kubernetes-models/v1/Service";
import type { Endpoint } from "../runtime.js";
import type { KubeApi } from "./kube-api.js";
import { ANNOTATION_PORTS } from "./names.js";

export interface EndpointSource {
  api: KubeApi;
  /** MLOPS_WORKSPACE_SSH_HOST: the host clients use for node ports. */
  sshHost?: string;
  namespace: string;
  pollMs: number;
}

/**
 * Where a workspace's ports are reachable: the Service's node port on the configured host (else the Pod's
 * node address, waited for briefly at start), or the load balancer's address and port; the Service's
 * cluster DNS name when nothing better is known.
 */
export async function workspaceEndpoints(
  source: EndpointSource,
  unit: string,
  service: IService,
  waitForNode = true,
): Promise<Record<string, Endpoint> | undefined> {
  const names = JSON.parse(service.metadata?.annotations?.[ANNOTATION_PORTS] ?? "{}") as Record<
    string,
    number
  >;
  const ingress = service.status?.loadBalancer?.ingress?.[0];
  let host = source.sshHost ?? ingress?.ip ?? ingress?.hostname;
  for (let tries = 0; !host && tries < (waitForNode ? 15 : 1); tries++) {
    const pod = await source.api.get("Pod", unit);
    host = pod?.status?.hostIP;
    if (!host && waitForNode) await sleep(source.pollMs);
  }
  host ??= `${unit}.${source.namespace}.svc`;
  const endpoints: Record<string, Endpoint> = {};
  for (const [name, port] of Object.entries(names)) {
    const entry = service.spec?.ports?.find((p) => p.port === port);
    const external = service.spec?.type === "NodePort" ? entry?.nodePort : entry?.port;
    if (external) endpoints[name] = { host, port: external };
  }
  return Object.keys(endpoints).length > 0 ? endpoints : undefined;
}
