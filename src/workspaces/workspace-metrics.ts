import { Counter, Gauge, type Registry } from "prom-client";
import type { WorkspaceStore } from "./workspace-store.js";

/**
 * Workspaces on /metrics: `mlops_workspaces_running` and `mlops_workspace_gpus_held` are read from the
 * database at scrape time (every control-plane replica reports the same); `mlops_workspace_idle_stops_total`
 * counts the idle stops of this process's culler (the leader's).
 */
export function registerWorkspaceMetrics(
  registry: Registry,
  store: Pick<WorkspaceStore, "inStates">,
  onError: (err: unknown) => void = () => {},
): { onIdleStop: () => void } {
  new Gauge({
    name: "mlops_workspaces_running",
    help: "Workspaces whose sshd runs",
    registers: [registry],
    async collect() {
      try {
        this.set((await store.inStates(["running"])).length);
      } catch (err) {
        onError(err);
      }
    },
  });
  new Gauge({
    name: "mlops_workspace_gpus_held",
    help: "GPUs held by running (and stopping) workspaces",
    registers: [registry],
    async collect() {
      try {
        const held = await store.inStates(["running", "stopping"]);
        this.set(held.reduce((sum, workspace) => sum + workspace.resources.gpus, 0));
      } catch (err) {
        onError(err);
      }
    },
  });
  const idleStops = new Counter({
    name: "mlops_workspace_idle_stops_total",
    help: "Workspaces stopped because they were idle",
    registers: [registry],
  });
  return { onIdleStop: () => idleStops.inc() };
}
