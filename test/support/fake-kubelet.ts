import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { constants } from "node:os";
import type { IContainer } from "kubernetes-models/v1/Container";
import type { IPod } from "kubernetes-models/v1/Pod";
import type { DeleteOptions, IJob, KubeKind } from "../../src/runtime/kubernetes/kube-api.js";
import { FakeKubeApi } from "./fake-kube-api.js";

/**
 * A FAKE kubelet and Job controller over FakeKubeApi, so the runtime contract suite can run without a
 * cluster: Pods of non-suspended Jobs are created per completion index; a Pod's workload container runs
 * as a local process (its command: the real rank launcher under /bin/sh), with the env the Pod spec
 * declares (values, Secret keys, the completion index) and the work volume mapped to a temp dir (one per
 * PVC, so it outlives Pods); init
 * containers (the code fetch) run first the same way. No image, no network namespace, no resource limits. Deletion: SIGTERM to
 * the container's PID 1, SIGKILL to all its processes after the grace period, as the kubelet does; the
 * terminated status stays readable for 200 ms before the Pod object goes. activeDeadlineSeconds ends a
 * Job with the DeadlineExceeded condition.
 */
export class FakeKubelet extends FakeKubeApi {
  private readonly processes = new Map<string, ChildProcess>();
  private readonly root = mkdtempSync(path.join(os.tmpdir(), "fake-kubelet-"));
  private readonly timer: NodeJS.Timeout;
  private readonly deadlines = new Map<string, NodeJS.Timeout>();

  constructor() {
    super();
    this.timer = setInterval(() => this.sync(), 20);
  }

  close(): void {
    clearInterval(this.timer);
    for (const t of this.deadlines.values()) clearTimeout(t);
    for (const child of this.processes.values()) if (child.pid) tryKill(-child.pid, "SIGKILL");
    rmSync(this.root, { recursive: true, force: true });
  }

  override async delete(kind: KubeKind, name: string, options: DeleteOptions = {}): Promise<boolean> {
    const object = this.objects.get(`${kind}/${name}`);
    if (!object) return super.delete(kind, name, options);
    if (kind === "Pod" && this.processes.has(name)) {
      this.deleted.push({ kind, name, options });
      this.terminate(name, options.gracePeriodSeconds);
      return true;
    }
    if (kind === "PersistentVolumeClaim") {
      rmSync(path.join(this.root, "claims", name), { recursive: true, force: true });
      return super.delete(kind, name, options);
    }
    if (kind === "Job") {
      object.metadata = { ...object.metadata, deletionTimestamp: new Date().toISOString() };
      for (const pod of this.podsOf(name)) this.terminate(pod.metadata!.name!, options.gracePeriodSeconds);
      const finish = () =>
        this.podsOf(name).length === 0 ? super.delete(kind, name, options) : setTimeout(finish, 20);
      finish();
      return true;
    }
    return super.delete(kind, name, options);
  }

  private sync(): void {
    for (const [key, object] of this.objects) {
      if (key.startsWith("Job/")) {
        const job = object as IJob;
        if (
          job.spec?.suspend ||
          job.metadata?.deletionTimestamp ||
          this.podsOf(job.metadata!.name!).length > 0
        )
          continue;
        if ((job.status?.conditions ?? []).length > 0) continue;
        this.startPods(job.metadata!.name!);
        const deadline = job.spec?.activeDeadlineSeconds;
        if (deadline) {
          const name = job.metadata!.name!;
          this.deadlines.set(
            name,
            setTimeout(() => {
              if (!this.objects.has(`Job/${name}`)) return;
              this.setJobCondition(name, "Failed", "DeadlineExceeded");
              for (const pod of this.podsOf(name)) this.terminate(pod.metadata!.name!, undefined, false);
            }, deadline * 1000),
          );
        }
      }
      if (key.startsWith("Pod/")) {
        const pod = object as IPod;
        if (pod.status?.phase && pod.status.phase !== "Pending") continue;
        if (!this.processes.has(pod.metadata!.name!)) this.run(pod);
      }
    }
  }

  /** The Pod's own labels decide which Job it belongs to. */
  override podsOf(unit: string): IPod[] {
    return [...this.objects.values()].filter(
      (o) =>
        o.kind === "Pod" && (o.metadata?.labels?.["mlops.dev/unit"] === unit || o.metadata?.name === unit),
    ) as IPod[];
  }

  private readonly starting = new Set<string>();

  /** A container's env as the kubelet resolves it; null while a Secret it needs does not exist yet. */
  /** Where the Pod's "work" volume lives here: per claim (kept across Pods), else per Pod. */
  private workDirOf(pod: IPod): string {
    const claim = pod.spec?.volumes?.find((v) => v.name === "work")?.persistentVolumeClaim?.claimName;
    return claim ? path.join(this.root, "claims", claim) : path.join(this.root, pod.metadata!.name!, "work");
  }

  private envOf(pod: IPod, container: IContainer, dir: string): Record<string, string> | null {
    const workMount = container.volumeMounts?.find((m) => m.name === "work")?.mountPath ?? "/mlops/work";
    const env: Record<string, string> = { PATH: "/usr/bin:/bin" };
    for (const entry of container.env ?? []) {
      if (entry.value !== undefined) env[entry.name] = entry.value.split(workMount).join(this.workDirOf(pod));
      const secretRef = entry.valueFrom?.secretKeyRef;
      if (secretRef) {
        const secret = this.objects.get(`Secret/${secretRef.name}`) as
          | { stringData?: Record<string, string> }
          | undefined;
        const value = secret?.stringData?.[secretRef.key];
        if (value === undefined) return null; // CreateContainerConfigError: retried on the next sync
        env[entry.name] = value;
      }
      const field = entry.valueFrom?.fieldRef?.fieldPath;
      const annotation = field && /^metadata\.annotations\['(.+)'\]$/.exec(field)?.[1];
      if (annotation) env[entry.name] = pod.metadata?.annotations?.[annotation] ?? "";
    }
    env.MLOPS_TERMINATION_LOG = path.join(dir, `termination-log-${container.name}`);
    env.MLOPS_LAUNCHER_DIR = path.join(dir, "launcher");
    return env;
  }

  private run(pod: IPod): void {
    const name = pod.metadata!.name!;
    if (this.starting.has(name)) return;
    const dir = path.join(this.root, name);
    const containers = [...(pod.spec!.initContainers ?? []), pod.spec!.containers[0]];
    const envs = containers.map((c) => this.envOf(pod, c, dir));
    if (envs.some((e) => e === null)) return;
    this.starting.add(name);
    const work = this.workDirOf(pod);
    mkdirSync(dir, { recursive: true });
    mkdirSync(work, { recursive: true });
    void (async () => {
      for (const [i, init] of (pod.spec!.initContainers ?? []).entries()) {
        const env = envs[i]!;
        const [command, ...args] = init.command!;
        const child = spawn(command, args, { cwd: work, env, stdio: "ignore" });
        const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
        if (code !== 0) {
          let message = "init container failed";
          try {
            message = readFileSync(env.MLOPS_TERMINATION_LOG, "utf8");
          } catch {
            // no message
          }
          this.failInit(name, message);
          return;
        }
      }
      if (this.objects.has(`Pod/${name}`)) this.runMain(pod, envs[envs.length - 1]!, work);
    })();
  }

  private runMain(pod: IPod, env: Record<string, string>, work: string): void {
    const name = pod.metadata!.name!;
    const [command, ...args] = pod.spec!.containers[0].command!;
    const child = spawn(command, args, { cwd: work, env, detached: true });
    this.processes.set(name, child);
    this.runPod(name, "fake-node");
    const log = (data: Buffer) => this.appendLog(name, data.toString());
    child.stdout?.on("data", log);
    child.stderr?.on("data", log);
    child.on("close", (code, signal) => {
      let message: string | undefined;
      try {
        message = readFileSync(env.MLOPS_TERMINATION_LOG, "utf8");
      } catch {
        message = undefined;
      }
      const exitCode = code ?? 128 + (signal ? constants.signals[signal] : 0);
      if (this.objects.has(`Pod/${name}`)) this.finishPod(name, { exitCode, message });
      const stored = this.objects.get(`Pod/${name}`);
      if (stored?.metadata?.deletionTimestamp) setTimeout(() => this.vanish(name), 200);
    });
  }

  private terminate(name: string, graceSeconds: number | undefined, deleting = true): void {
    const pod = this.objects.get(`Pod/${name}`) as IPod | undefined;
    const child = this.processes.get(name);
    if (pod && deleting) pod.metadata = { ...pod.metadata, deletionTimestamp: new Date().toISOString() };
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) {
      if (deleting) setTimeout(() => this.vanish(name), 200);
      return;
    }
    const grace = graceSeconds ?? pod?.spec?.terminationGracePeriodSeconds ?? 30;
    tryKill(child.pid, "SIGTERM");
    const pid = child.pid;
    setTimeout(() => tryKill(-pid, "SIGKILL"), grace * 1000);
  }
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
