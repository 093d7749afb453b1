import { PassThrough } from "node:stream";
import {
  ApiException,
  ApisApi,
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  type KubernetesObject,
  Log,
} from "@kubernetes/client-node";
import {
  type DeleteOptions,
  type KubeApi,
  KubeApiError,
  type KubeKind,
  type KubeObjects,
  type PodLogOptions,
} from "./kube-api.js";

const API_VERSION: Record<KubeKind, string> = {
  Job: "batch/v1",
  Pod: "v1",
  Service: "v1",
  PersistentVolumeClaim: "v1",
  Secret: "v1",
};

/** The kubeconfig file when given, else client-node's default: $KUBECONFIG, ~/.kube/config, in-cluster. */
export function loadKubeConfig(file: string | undefined): KubeConfig {
  const config = new KubeConfig();
  if (file) config.loadFromFile(file);
  else config.loadFromDefault();
  return config;
}

/** The models of @kubernetes/client-node carry Date objects; the runtime works on the API's JSON. */
function json<T>(value: unknown): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

async function call<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof ApiException) {
      const body = err.body as { message?: string } | string | undefined;
      const detail = typeof body === "string" ? body : (body?.message ?? err.message);
      throw new KubeApiError(err.code, `${what}: ${detail}`);
    }
    throw err;
  }
}

/** KubeApi over @kubernetes/client-node 1.x: translation only, no decisions. */
export class ClientNodeKubeApi implements KubeApi {
  private readonly objects: KubernetesObjectApi;
  private readonly core: CoreV1Api;
  private readonly apis: ApisApi;
  private readonly logs: Log;

  constructor(
    config: KubeConfig,
    private readonly namespace: string,
  ) {
    this.objects = KubernetesObjectApi.makeApiClient(config);
    this.core = config.makeApiClient(CoreV1Api);
    this.apis = config.makeApiClient(ApisApi);
    this.logs = new Log(config);
  }

  async create<K extends KubeKind>(kind: K, object: KubeObjects[K]): Promise<KubeObjects[K]> {
    const body = {
      ...object,
      metadata: { ...object.metadata, namespace: this.namespace },
    } as KubernetesObject;
    return json(await call(`create ${kind}`, () => this.objects.create(body)));
  }

  async get<K extends KubeKind>(kind: K, name: string): Promise<KubeObjects[K] | null> {
    try {
      const header = { apiVersion: API_VERSION[kind], kind, metadata: { name, namespace: this.namespace } };
      return json(await call(`get ${kind} ${name}`, () => this.objects.read(header)));
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return null;
      throw err;
    }
  }

  async list<K extends KubeKind>(kind: K, labelSelector: string): Promise<Array<KubeObjects[K]>> {
    const list = await call(`list ${kind}`, () =>
      this.objects.list(
        API_VERSION[kind],
        kind,
        this.namespace,
        undefined,
        undefined,
        undefined,
        undefined,
        labelSelector,
      ),
    );
    return json<Array<KubeObjects[K]>>(list.items).map((item) => ({
      ...item,
      apiVersion: API_VERSION[kind],
      kind,
    }));
  }

  async delete(kind: KubeKind, name: string, options: DeleteOptions = {}): Promise<boolean> {
    const header = { apiVersion: API_VERSION[kind], kind, metadata: { name, namespace: this.namespace } };
    try {
      await call(`delete ${kind} ${name}`, () =>
        this.objects.delete(
          header,
          undefined,
          undefined,
          options.gracePeriodSeconds,
          undefined,
          options.propagationPolicy,
        ),
      );
      return true;
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return false;
      throw err;
    }
  }

  podLog(podName: string, options: PodLogOptions): AsyncIterable<Buffer> {
    const out = new PassThrough();
    const started = this.logs.log(this.namespace, podName, options.container, out, {
      follow: options.follow ?? false,
    });
    started.then(
      (controller) => {
        const abort = () => {
          controller.abort();
          out.end();
        };
        if (options.signal?.aborted) abort();
        else options.signal?.addEventListener("abort", abort, { once: true });
      },
      (err: unknown) => {
        const status = err instanceof ApiException ? err.code : 500;
        out.destroy(new KubeApiError(status, `log of Pod ${podName}: ${(err as Error).message}`));
      },
    );
    return out;
  }

  async listNodes() {
    return json<Awaited<ReturnType<KubeApi["listNodes"]>>>(
      (await call("list nodes", () => this.core.listNode())).items,
    );
  }

  async hasApiGroup(group: string): Promise<boolean> {
    const groups = await call("API discovery", () => this.apis.getAPIVersions());
    return groups.groups.some((g) => g.name === group);
  }
}
