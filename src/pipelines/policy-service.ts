import { randomUUID } from "node:crypto";
import type { Project } from "../auth/identity-store.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import { ForbiddenError, InputError, NotFoundError } from "../errors.js";
import type { PipelineStore } from "./pipeline-store.js";
import { parsePolicyInput, type PolicyInput, type RetrainPolicy } from "./policy.js";
import type { PipelinePorts } from "./ports.js";

export interface ProjectLookup {
  getProject(principal: Principal, idOrName: string, permission?: Permission): Promise<Project>;
  listProjects(principal: Principal): Promise<Project[]>;
}

/**
 * Retrain policies as people manage them (`mlops trigger set|show|pause|resume`). Setting one needs `write`
 * on the model's project, and `deploy` when it deploys candidates by itself (it will start canaries).
 */
export class PolicyService {
  private readonly now: () => number;

  constructor(
    private readonly deps: {
      store: PipelineStore;
      ports: Pick<PipelinePorts, "registry" | "snapshots" | "audit">;
      projects: ProjectLookup;
      now?: () => number;
    },
  ) {
    this.now = deps.now ?? Date.now;
  }

  async set(
    principal: Principal,
    project: string,
    modelName: string,
    input: PolicyInput,
  ): Promise<RetrainPolicy> {
    if (principal.scope) throw new ForbiddenError("a workload token cannot set retrain policies");
    const parsed = parsePolicyInput(input);
    const permission: Permission = parsed.autoDeploy ? "deploy" : "write";
    const model = await this.deps.ports.registry.getModel(principal, project, modelName, permission);
    if (typeof input.dataset !== "string" || input.dataset.trim() === "")
      throw new InputError("dataset is required");
    const dataset = await this.deps.ports.snapshots.dataset(principal, model.projectId, input.dataset.trim());
    if (dataset.projectId !== model.projectId) {
      throw new InputError(`dataset ${dataset.name} belongs to another project than model ${model.name}`);
    }
    const existing = await this.deps.store.findPolicyByModel(model.id);
    const at = this.now();
    const actor = actorOf(principal);
    const policy = await this.deps.store.upsertPolicy({
      id: existing?.id ?? randomUUID(),
      projectId: model.projectId,
      modelId: model.id,
      modelName: model.name,
      datasetId: dataset.id,
      datasetName: dataset.name,
      ...parsed,
      triggerSeq: existing?.triggerSeq ?? 0,
      lastFiredAt: existing?.lastFiredAt ?? null,
      thresholdMetAt: existing?.thresholdMetAt ?? null,
      ownerId: principal.userId,
      createdAt: existing?.createdAt ?? at,
      updatedAt: at,
      createdBy: existing?.createdBy ?? actor,
      updatedBy: actor,
    });
    await this.record(
      principal,
      policy,
      "pipeline.policy.set",
      existing ? "retrain policy replaced" : "retrain policy created",
      {
        dataset: dataset.name,
        minNewLabels: policy.minNewLabels,
        cooldownSeconds: policy.cooldownSeconds,
        settleSeconds: policy.settleSeconds,
        command: policy.job.command,
        autoDeploy: policy.autoDeploy,
        deployment: policy.deployment,
      },
    );
    return policy;
  }

  async get(principal: Principal, project: string, modelName: string): Promise<RetrainPolicy> {
    const model = await this.deps.ports.registry.getModel(principal, project, modelName);
    const policy = await this.deps.store.findPolicyByModel(model.id);
    if (!policy)
      throw new NotFoundError(
        `model ${model.name} has no retrain policy (mlops trigger set ${model.name} ...)`,
      );
    return policy;
  }

  async setPaused(
    principal: Principal,
    project: string,
    modelName: string,
    paused: boolean,
  ): Promise<RetrainPolicy> {
    const model = await this.deps.ports.registry.getModel(principal, project, modelName, "write");
    const policy = await this.deps.store.findPolicyByModel(model.id);
    if (!policy) throw new NotFoundError(`model ${model.name} has no retrain policy`);
    await this.deps.store.setPaused(policy.id, paused, actorOf(principal), this.now());
    await this.record(
      principal,
      policy,
      paused ? "pipeline.policy.pause" : "pipeline.policy.resume",
      paused ? "paused" : "resumed",
      {},
    );
    return (await this.deps.store.findPolicy(policy.id)) as RetrainPolicy;
  }

  async list(principal: Principal, project?: string): Promise<RetrainPolicy[]> {
    const projectIds = project
      ? [(await this.deps.projects.getProject(principal, project, "read")).id]
      : (await this.deps.projects.listProjects(principal)).map((p) => p.id);
    return this.deps.store.listPolicies({ projectIds });
  }

  private async record(
    principal: Principal,
    policy: RetrainPolicy,
    action: string,
    reason: string,
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.deps.ports.audit.record({
      actor: actorOf(principal),
      action,
      subjectType: "retrain_policy",
      subjectId: policy.id,
      projectId: policy.projectId,
      reason,
      details: { model: policy.modelName, ...details },
    });
  }
}
