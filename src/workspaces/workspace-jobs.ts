import type { Principal } from "../auth/principal.js";
import { ConflictError } from "../errors.js";
import type { JobService } from "../jobs/job-service.js";
import type { WorkspaceJobs, WorkspaceJobView } from "./workspace-ports.js";

/** The platform acting on workspace jobs it follows (reading their state, stopping them). */
const SYSTEM: Principal = { userId: "system", userName: "system", role: "admin", tokenId: "system" };

type Jobs = Pick<JobService, "submitInternal" | "get" | "replicas" | "cancel">;

/** Workspaces on the job system: each start is an internal job of kind "workspace" (docs/architecture/workspaces.md). */
export function workspaceJobsFrom(jobs: Jobs): WorkspaceJobs {
  return {
    async submit(principal, request) {
      const job = await jobs.submitInternal(principal, {
        project: request.project,
        name: request.name,
        command: request.command,
        env: request.env,
        secretEnv: request.secretEnv,
        resources: request.resources,
        timeoutSeconds: null,
        experiment: "workspaces",
        kind: "workspace",
        ports: [{ name: "ssh" }],
        volumes: request.volumes,
        user: request.user,
        ...(request.image ? { image: request.image } : {}),
      });
      return { id: job.id };
    },
    async get(jobId) {
      let job: Awaited<ReturnType<Jobs["get"]>>;
      try {
        job = await jobs.get(SYSTEM, jobId);
      } catch {
        return undefined;
      }
      const view: WorkspaceJobView = { id: job.id, state: job.state, stateReason: job.stateReason };
      if (job.state === "scheduled" || job.state === "running") {
        const replicas = (await jobs.replicas(SYSTEM, jobId)).filter(
          (replica) => replica.attempt === job.attempt && replica.replicaIndex === 0,
        );
        const replica = replicas[replicas.length - 1];
        if (replica) {
          view.replicaId = replica.replicaId;
          const ssh = replica.endpoints?.ssh;
          if (ssh && replica.state === "running") view.ssh = { host: ssh.host, port: ssh.port };
        }
      }
      return view;
    },
    async cancel(jobId) {
      try {
        await jobs.cancel(SYSTEM, jobId);
      } catch (err) {
        if (err instanceof ConflictError) return; // it has already ended
        throw err;
      }
    },
  };
}
