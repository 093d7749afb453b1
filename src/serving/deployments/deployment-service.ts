import { randomUUID } from "node:crypto";
import { DEFAULT_PROJECT, type IdentityService } from "../../auth/identity-service.js";
import { actorOf, type Principal } from "../../auth/principal.js";
import type { Permission } from "../../auth/roles.js";
import { ConflictError, InputError, UnprocessableError } from "../../errors.js";
import type { ModelVersion } from "../../registry/registry-store.js";
import type { EventPublisher } from "../../events/events.js";
import { initialWeight, type PlanInput, parsePlan } from "./analysis-plan.js";
import type { DeploymentChanges } from "./change-recorder.js";
import {
  type Deployment,
  type DeploymentHistoryEntry,
  ENVIRONMENTS,
  type Environment,
  isDeploymentName,
  type LabelStudioSetup,
} from "./deployment.js";
import { lookupFor, resolveDeploymentRef } from "./deployment-ref.js";
import type { DeploymentStore } from "./deployment-store.js";
import { promoteCanary } from "./promotion-flow.js";
import { checkCanary, checkPrimary, type RegistryPort } from "./version-rules.js";

export interface CreateDeploymentInput {
  name: string;
  /** Project name or id; default `default`. */
  project?: string;
  model: string;
  /** Default: the model's production version. */
  version?: number;
  environment?: Environment;
}

export interface StartCanaryInput {
  version: number;
  /** The canary's first weight; default one step. */
  percent?: number;
  plan?: PlanInput;
  reason?: string;
}

export interface DeploymentServiceDeps {
  store: DeploymentStore;
  changes: DeploymentChanges;
  identity: IdentityService;
  registry: RegistryPort;
  events: EventPublisher;
  /** Reloads this process's routing table after a create/delete. */
  onChanged: () => Promise<void>;
  /** Refuses a version whose parity samples serving's preprocessing does not reproduce (docs/serving-model-format.md). */
  parity?: (version: ModelVersion) => Promise<void>;
  now?: () => number;
}

/** Deployments as people manage them: create, canary, promote, roll back, history. */
export class DeploymentService {
  private readonly now: () => number;

  constructor(private readonly deps: DeploymentServiceDeps) {
    this.now = deps.now ?? Date.now;
  }

  async create(principal: Principal, input: CreateDeploymentInput): Promise<Deployment> {
    if (!isDeploymentName(input.name)) {
      throw new InputError(
        `invalid deployment name '${String(input.name).slice(0, 80)}': 1-63 of a-z, 0-9, '.', '_', '-', starting with a letter or digit`,
      );
    }
    const environment = input.environment ?? "production";
    if (!ENVIRONMENTS.includes(environment))
      throw new InputError(`environment must be one of ${ENVIRONMENTS.join(", ")}`);
    const project = await this.deps.identity.getProject(
      principal,
      input.project ?? DEFAULT_PROJECT,
      "deploy",
    );
    // Names are unique per project: one used only in another project neither blocks nor shows here.
    if ((await this.deps.store.findNamed(input.name)).some((d) => d.projectId === project.id))
      throw new ConflictError(`a deployment named ${input.name} already exists in this project`);
    const model = await this.deps.registry.getModel(principal, project.id, input.model);
    let version: ModelVersion | undefined;
    if (input.version !== undefined) {
      version = (await this.deps.registry.getVersion(principal, project.id, model.name, input.version))
        .version;
    } else {
      const versions = await this.deps.registry.listVersions(principal, project.id, model.name);
      version = versions.find((v) => v.stage === "production");
      if (!version) {
        throw new UnprocessableError(
          `model ${model.name} has no production version; pass --version (with --environment dev), or promote a version first`,
        );
      }
    }
    checkPrimary(environment, version);
    await this.deps.parity?.(version);
    const at = this.now();
    const d: Deployment = {
      id: randomUUID(),
      name: input.name,
      projectId: project.id,
      modelId: model.id,
      modelName: model.name,
      environment,
      state: "stable",
      primaryVersionId: version.id,
      primaryVersion: version.version,
      canaryVersionId: null,
      canaryVersion: null,
      canaryWeight: 0,
      plan: null,
      canaryStartedAt: null,
      stepStartedAt: null,
      failures: 0,
      labelStudio: null,
      revision: 1,
      createdAt: at,
      updatedAt: at,
      createdBy: principal.userName,
    };
    const reason = `serving ${model.name} version ${version.version} (${environment})`;
    await this.deps.store.insert(d, {
      deploymentId: d.id,
      at,
      actor: actorOf(principal),
      action: "create",
      fromState: null,
      toState: "stable",
      reason,
      primaryVersion: d.primaryVersion,
      canaryVersion: null,
      canaryWeight: 0,
      details: { environment, model: model.name, version: version.version, stage: version.stage },
    });
    await this.deps.events.publish({
      type: "deployment.create",
      projectId: project.id,
      subjectType: "deployment",
      subjectId: d.id,
      actor: actorOf(principal),
      reason,
      data: { deployment: d.name, model: model.name, primaryVersion: d.primaryVersion, environment },
    });
    await this.deps.onChanged();
    return d;
  }

  /** `name` is a deployment reference: `name` or `project/name` (deployment-ref.ts). */
  async get(principal: Principal, name: string, permission: Permission = "read"): Promise<Deployment> {
    const d = await resolveDeploymentRef(
      name,
      lookupFor(this.deps.identity, principal, (n) => this.deps.store.findNamed(n)),
    );
    await this.deps.identity.getProject(principal, d.projectId, permission);
    return d;
  }

  /** Deployments of one project, or of every project the caller can read. */
  async list(principal: Principal, project?: string): Promise<Deployment[]> {
    if (project) {
      const p = await this.deps.identity.getProject(principal, project, "read");
      return this.deps.store.list({ projectIds: [p.id] });
    }
    const projects = await this.deps.identity.listProjects(principal);
    return this.deps.store.list({ projectIds: projects.map((p) => p.id) });
  }

  async startCanary(principal: Principal, name: string, input: StartCanaryInput): Promise<Deployment> {
    const d = await this.get(principal, name, "deploy");
    const plan = parsePlan(input.plan);
    const weight = initialWeight(plan, input.percent);
    const { version } = await this.deps.registry.getVersion(
      principal,
      d.projectId,
      d.modelName,
      input.version,
    );
    if (version.id === d.primaryVersionId)
      throw new ConflictError(`version ${version.version} is already the primary of ${d.name}`);
    const evidence = await checkCanary(this.deps.registry, d.environment, version);
    await this.deps.parity?.(version);
    return this.deps.changes.apply(
      d,
      { action: "start_canary", canaryVersionId: version.id, canaryVersion: version.version, weight, plan },
      {
        actor: actorOf(principal),
        reason:
          input.reason?.trim() ||
          `canary of version ${version.version} at ${weight}%${plan.auto ? " (automated analysis)" : ""}`,
        details: { stage: version.stage, validationRecord: evidence },
      },
    );
  }

  /** Manual override: promotes the canary now, whatever the analysis says (the registry's rules still hold). */
  async promote(principal: Principal, name: string, reason?: string): Promise<Deployment> {
    const d = await this.get(principal, name, "deploy");
    return promoteCanary(this.deps.changes, this.deps.registry, d, {
      principal,
      actor: actorOf(principal),
      reason: reason?.trim() || "promoted by hand",
    });
  }

  /** Manual override: all traffic back to the primary, the canary marked failed. */
  async rollback(principal: Principal, name: string, reason?: string): Promise<Deployment> {
    const d = await this.get(principal, name, "deploy");
    return this.deps.changes.apply(
      d,
      { action: "rollback" },
      {
        actor: actorOf(principal),
        reason: reason?.trim() || "rolled back by hand",
        details: { outcome: "failed", manual: true },
      },
    );
  }

  async history(principal: Principal, name: string): Promise<DeploymentHistoryEntry[]> {
    const d = await this.get(principal, name);
    return this.deps.store.history(d.id);
  }

  async delete(principal: Principal, name: string): Promise<void> {
    const d = await this.get(principal, name, "deploy");
    if (d.state === "promoting")
      throw new ConflictError(`deployment ${name} is being promoted; try again in a moment`);
    await this.deps.store.delete(d.id);
    await this.deps.events.publish({
      type: "deployment.delete",
      projectId: d.projectId,
      subjectType: "deployment",
      subjectId: d.id,
      actor: actorOf(principal),
      reason: `deployment ${name} deleted`,
      data: {
        deployment: name,
        model: d.modelName,
        primaryVersion: d.primaryVersion,
        canaryVersion: d.canaryVersion,
      },
    });
    await this.deps.onChanged();
  }

  /** Label Studio's `/setup`: which control and object tags predictions fill. Needs `predict` only. */
  async configureLabelStudio(
    principal: Principal,
    name: string,
    setup: LabelStudioSetup,
  ): Promise<Deployment> {
    const d = await this.get(principal, name, "predict");
    if (JSON.stringify(d.labelStudio) === JSON.stringify(setup)) return d;
    await this.deps.identity.getProject(principal, d.projectId, "deploy"); // changing it: engineer+

    return this.deps.changes.apply(
      d,
      { action: "configure_label_studio", setup },
      {
        actor: actorOf(principal),
        reason: `Label Studio project ${setup.project ?? "?"} connected (${setup.fromName} -> ${setup.toName})`,
      },
    );
  }
}
