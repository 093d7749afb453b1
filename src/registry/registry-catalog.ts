import { randomUUID } from "node:crypto";
import type { ArtifactStore } from "../artifacts/artifact-store.js";
import type { BlobOwnership } from "../artifacts/blob-ownership.js";
import type { Project } from "../auth/identity-store.js";
import { grantWorkload } from "../auth/authorization.js";
import type { IdentityService } from "../auth/identity-service.js";
import { actorOf, type Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import { ConflictError, InputError, NotFoundError } from "../errors.js";
import type { EventPublisher } from "../events/events.js";
import { evaluateStanding, type GateStanding } from "./promotion.js";
import type { ModelVersion, RegisteredModel, RegistryStore, VersionFile } from "./registry-store.js";
import type { RunLookup } from "./run-lookup.js";
import {
  checkModelFiles,
  checkUploadedFiles,
  filesFromRun,
  runDirOfSource,
  runIdOfSource,
} from "./version-files.js";
import { parseGate, type ValidationGate } from "./validation-gate.js";

/** Tag on every version with a model.json: how its preprocessing parity check went. */
export const PARITY_TAG = "mlops.preprocessing_parity";
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._ -]{0,127}$/;
const ALIAS = /^[A-Za-z0-9_-]{1,255}$/;

export function validateModelName(name: unknown): string {
  if (typeof name !== "string" || !MODEL_NAME.test(name)) {
    throw new InputError(
      `invalid model name '${String(name).slice(0, 80)}': 1-128 of letters, digits, '.', '_', '-', ' ', starting with a letter or digit`,
    );
  }
  return name;
}

export function validateAlias(alias: unknown): string {
  if (typeof alias !== "string" || !ALIAS.test(alias)) {
    throw new InputError(`invalid alias '${String(alias).slice(0, 80)}': letters, digits, '_' and '-' only`);
  }
  // MLflow reserves these: `models:/name@latest` and `@v3` mean something else.
  if (alias.toLowerCase() === "latest" || /^v\d+$/i.test(alias)) {
    throw new InputError(`alias '${alias}' is reserved ('latest' and 'v<number>' name versions)`);
  }
  return alias;
}

function validateTag(key: string, value: string): void {
  if (!key || key.length > 250) throw new InputError("tag key must be 1-250 characters");
  if (value.length > 5000) throw new InputError(`tag ${key}: value longer than 5000 characters`);
}

export function parseVersionNumber(version: string | number): number {
  const n = typeof version === "number" ? version : Number(version);
  if (!Number.isSafeInteger(n) || n < 1)
    throw new InputError(`invalid model version '${version}': expected a positive integer`);
  return n;
}

/** Where a new version's files come from. */
export type VersionInput =
  | { kind: "run"; runId: string; path?: string }
  | { kind: "source"; source: string; runId?: string }
  | { kind: "upload"; files: Array<{ path: string; sha256: string }> }
  /** Files another domain resolved and access-checked (an MLflow logged model, `models:/m-<id>`). */
  | { kind: "resolved"; projectId: string; source: string; runId: string | null; files: VersionFile[] };

export interface RegistryDeps {
  store: RegistryStore;
  identity: IdentityService;
  artifacts: ArtifactStore;
  /** Which project owns which blob: uploaded files resolve only for their owner (docs/security.md). */
  blobs: BlobOwnership;
  events: EventPublisher;
  /** Tracking's runs; without it versions can only be uploaded. */
  runs?: RunLookup;
  /** Serving's deployments of a model: deleting what a deployment serves is refused. */
  serving?: ServingLookup;
  /** Training/serving preprocessing parity of a new version's files (serving provides it; docs/serving-model-format.md). */
  parity?: (files: VersionFile[]) => Promise<{ failure?: string; summary: string }>;
  now?: () => number;
}

/** What a deployment serves, as the registry needs to know before deleting. */
export interface ServedBy {
  deployment: string;
  versionIds: string[];
}

export interface ServingLookup {
  deploymentsOf(projectId: string, modelId: string): Promise<ServedBy[]>;
}

/** Registered models and their versions, tags and aliases (stages and validation: RegistryService). */
export class RegistryCatalog {
  protected readonly now: () => number;

  constructor(protected readonly deps: RegistryDeps) {
    this.now = deps.now ?? Date.now;
  }

  async project(principal: Principal, project: string, permission: Permission): Promise<Project> {
    return this.deps.identity.getProject(principal, project, permission);
  }

  async createModel(
    principal: Principal,
    projectName: string,
    input: { name: string; description?: string; tags?: Record<string, string>; gate?: unknown },
  ): Promise<RegisteredModel> {
    // A workload may create the model its run registers into, but never choose its gate.
    const caller = input.gate == null ? grantWorkload(principal, "model.create") : principal;
    const project = await this.project(caller, projectName, "write");
    const name = validateModelName(input.name);
    for (const [k, v] of Object.entries(input.tags ?? {})) validateTag(k, v);
    const gate = input.gate === undefined || input.gate === null ? null : parseGate(input.gate);
    if (await this.deps.store.findModel(project.id, name)) {
      throw new ConflictError(`registered model '${name}' already exists in project ${project.name}`);
    }
    const at = this.now();
    const model = {
      id: randomUUID(),
      projectId: project.id,
      name,
      description: input.description ?? "",
      createdAt: at,
      updatedAt: at,
      createdBy: principal.userName,
      gate,
      tags: input.tags ?? {},
    };
    await this.deps.store.insertModel(model);
    const created: RegisteredModel = { ...model, aliases: {} };
    await this.publish(principal, "model.created", created, { name, gate });
    return created;
  }

  async getModel(principal: Principal, projectName: string, name: string, permission: Permission = "read") {
    const project = await this.project(principal, projectName, permission);
    return this.modelIn(project, name);
  }

  async listModels(principal: Principal, projectName: string): Promise<RegisteredModel[]> {
    const project = await this.project(principal, projectName, "read");
    return this.deps.store.listModels(project.id);
  }

  async updateModel(
    principal: Principal,
    projectName: string,
    name: string,
    patch: { newName?: string; description?: string },
  ): Promise<RegisteredModel> {
    const model = await this.getModel(principal, projectName, name, "write");
    if (patch.newName !== undefined && patch.newName !== model.name) {
      validateModelName(patch.newName);
      if (await this.deps.store.findModel(model.projectId, patch.newName)) {
        throw new ConflictError(`registered model '${patch.newName}' already exists`);
      }
    }
    await this.deps.store.updateModel(model.id, {
      name: patch.newName,
      description: patch.description,
      at: this.now(),
    });
    await this.publish(principal, "model.updated", model, { ...patch, name: model.name });
    return this.reloadModel(model.id);
  }

  async deleteModel(principal: Principal, projectName: string, name: string): Promise<void> {
    const model = await this.getModel(principal, projectName, name, "write");
    const serving = (await this.deps.serving?.deploymentsOf(model.projectId, model.id)) ?? [];
    if (serving.length > 0) {
      const names = serving.map((s) => s.deployment).join(", ");
      throw new ConflictError(
        `model '${model.name}' is served by deployment ${names}; delete the deployment first`,
        { mlflowErrorCode: "INVALID_STATE" },
      );
    }
    await this.deps.store.deleteModel(model.id);
    await this.publish(principal, "model.deleted", model, { name: model.name });
  }

  async setModelTag(principal: Principal, projectName: string, name: string, key: string, value: string) {
    validateTag(key, value);
    const model = await this.getModel(principal, projectName, name, "write");
    await this.deps.store.setModelTag(model.id, key, value, this.now());
  }

  async deleteModelTag(principal: Principal, projectName: string, name: string, key: string) {
    const model = await this.getModel(principal, projectName, name, "write");
    if (!(await this.deps.store.deleteModelTag(model.id, key, this.now()))) {
      throw new NotFoundError(`registered model '${name}' has no tag '${key}'`);
    }
  }

  async setGate(
    principal: Principal,
    projectName: string,
    name: string,
    gate: unknown,
  ): Promise<RegisteredModel> {
    const model = await this.getModel(principal, projectName, name, "deploy");
    const parsed: ValidationGate | null = gate === null ? null : parseGate(gate);
    await this.deps.store.updateModel(model.id, { gate: parsed, at: this.now() });
    await this.publish(principal, "model.gate.set", model, { name: model.name, gate: parsed });
    return this.reloadModel(model.id);
  }

  async createVersion(
    principal: Principal,
    projectName: string,
    name: string,
    input: VersionInput,
    options: { description?: string; tags?: Record<string, string>; requireModelFiles?: boolean } = {},
  ): Promise<ModelVersion> {
    const claimedRunId =
      input.kind === "run"
        ? input.runId
        : input.kind === "source"
          ? (input.runId ?? runIdOfSource(input.source))
          : input.kind === "resolved"
            ? input.runId
            : null;
    const caller = grantWorkload(principal, "model.version.create", { runId: claimedRunId });
    const model = await this.getModel(caller, projectName, name, "write");
    for (const [k, v] of Object.entries(options.tags ?? {})) validateTag(k, v);
    const { files, source, runId, runPath } = await this.resolveFiles(model, input);
    const descriptor = await checkModelFiles(this.deps.artifacts, files, options.requireModelFiles ?? true);
    const parity = descriptor && this.deps.parity ? await this.deps.parity(files) : undefined;
    if (parity?.failure) throw new InputError(parity.failure);
    const tags = parity ? { ...options.tags, [PARITY_TAG]: parity.summary } : (options.tags ?? {});
    const created = await this.deps.store.insertVersion(model.id, {
      id: randomUUID(),
      source,
      runId,
      runPath,
      description: options.description ?? "",
      createdAt: this.now(),
      createdBy: principal.userName,
      tags,
      files,
    });
    // The project now owns these blobs in its own right, even once the run they came from is deleted.
    await this.deps.blobs.claim(
      model.projectId,
      files.map((f) => f.sha256),
    );
    await this.publish(principal, "model.version.created", model, {
      name: model.name,
      version: created.version,
      source,
      runId,
      files: files.map((f) => f.path),
    });
    return created;
  }

  async getVersion(
    principal: Principal,
    projectName: string,
    name: string,
    version: string | number,
    permission: Permission = "read",
  ): Promise<{ model: RegisteredModel; version: ModelVersion }> {
    const model = await this.getModel(principal, projectName, name, permission);
    const n = parseVersionNumber(version);
    const found = await this.deps.store.findVersion(model.id, n);
    if (!found) throw new NotFoundError(`registered model '${model.name}' has no version ${n}`);
    return { model, version: found };
  }

  async listVersions(principal: Principal, projectName: string, name: string): Promise<ModelVersion[]> {
    const model = await this.getModel(principal, projectName, name);
    return this.deps.store.listVersions(model.id);
  }

  async searchVersions(
    principal: Principal,
    projectName: string,
    query: { modelName?: string; runId?: string },
  ) {
    const project = await this.project(principal, projectName, "read");
    return this.deps.store.searchVersions({ projectId: project.id, ...query });
  }

  async updateVersion(
    principal: Principal,
    projectName: string,
    name: string,
    version: string,
    description: string,
  ) {
    const found = await this.getVersion(principal, projectName, name, version, "write");
    await this.deps.store.updateVersionDescription(found.version.id, description, this.now());
    return (await this.deps.store.findVersionById(found.version.id)) as ModelVersion;
  }

  async deleteVersion(
    principal: Principal,
    projectName: string,
    name: string,
    version: string,
  ): Promise<void> {
    const { model, version: v } = await this.getVersion(principal, projectName, name, version, "write");
    const serving = ((await this.deps.serving?.deploymentsOf(model.projectId, model.id)) ?? []).filter((s) =>
      s.versionIds.includes(v.id),
    );
    if (serving.length > 0) {
      const names = serving.map((s) => s.deployment).join(", ");
      throw new ConflictError(
        `version ${v.version} of '${model.name}' is served by deployment ${names}; roll it back or delete the deployment first`,
        { mlflowErrorCode: "INVALID_STATE" },
      );
    }
    await this.deps.store.deleteVersion(v.id);
    await this.publish(principal, "model.version.deleted", model, {
      name: model.name,
      version: v.version,
      stage: v.stage,
    });
  }

  async setVersionTag(
    principal: Principal,
    projectName: string,
    name: string,
    version: string,
    key: string,
    value: string,
  ) {
    validateTag(key, value);
    const found = await this.getVersion(principal, projectName, name, version, "write");
    await this.deps.store.setVersionTag(found.version.id, key, value, this.now());
  }

  async deleteVersionTag(
    principal: Principal,
    projectName: string,
    name: string,
    version: string,
    key: string,
  ) {
    const found = await this.getVersion(principal, projectName, name, version, "write");
    if (!(await this.deps.store.deleteVersionTag(found.version.id, key, this.now()))) {
      throw new NotFoundError(`model version ${name}/${version} has no tag '${key}'`);
    }
  }

  async setAlias(
    principal: Principal,
    projectName: string,
    name: string,
    alias: string,
    version: string | number,
  ) {
    validateAlias(alias);
    const { model, version: v } = await this.getVersion(principal, projectName, name, version, "write");
    await this.deps.store.setAlias(model.id, alias, v.id, this.now());
    await this.publish(principal, "model.alias.set", model, { name: model.name, alias, version: v.version });
    return (await this.deps.store.findVersionById(v.id)) as ModelVersion;
  }

  async deleteAlias(principal: Principal, projectName: string, name: string, alias: string): Promise<void> {
    const model = await this.getModel(principal, projectName, name, "write");
    if (!(await this.deps.store.deleteAlias(model.id, alias, this.now()))) {
      throw new NotFoundError(`registered model '${model.name}' has no alias '${alias}'`);
    }
    await this.publish(principal, "model.alias.deleted", model, { name: model.name, alias });
  }

  async getByAlias(
    principal: Principal,
    projectName: string,
    name: string,
    alias: string,
  ): Promise<ModelVersion> {
    const model = await this.getModel(principal, projectName, name);
    const version = model.aliases[alias];
    if (version === undefined)
      throw new NotFoundError(`registered model '${model.name}' has no alias '${alias}'`);
    return (await this.getVersion(principal, projectName, name, version)).version;
  }

  /**
   * Whether the version would pass the gate now (serving's check before a canary): a record of it passes
   * against the model's gate and the current production version.
   */
  async hasPassingValidation(versionId: string): Promise<GateStanding> {
    const version = await this.deps.store.findVersionById(versionId);
    if (!version) throw new NotFoundError(`model version ${versionId} not found`);
    const model = await this.reloadModel(version.modelId);
    const all = await this.deps.store.listValidations(model.id);
    const production = (await this.deps.store.listVersions(model.id)).find((v) => v.stage === "production");
    return evaluateStanding(
      model,
      version,
      all.filter((r) => r.versionId === version.id),
      production,
      production ? all.filter((r) => r.versionId === production.id) : [],
    );
  }

  protected async modelIn(project: Project, name: string): Promise<RegisteredModel> {
    const model = await this.deps.store.findModel(project.id, name);
    if (!model) throw new NotFoundError(`registered model '${name}' not found in project ${project.name}`);
    return model;
  }

  protected async reloadModel(id: string): Promise<RegisteredModel> {
    const model = await this.deps.store.findModelById(id);
    if (!model) throw new NotFoundError(`registered model ${id} not found`);
    return model;
  }

  protected async publish(
    principal: Principal,
    type: string,
    model: RegisteredModel,
    data: Record<string, unknown>,
    reason?: string,
  ): Promise<void> {
    await this.deps.events.publish({
      type,
      projectId: model.projectId,
      subjectType: "registered_model",
      subjectId: model.id,
      actor: actorOf(principal),
      reason,
      data,
    });
  }

  private async resolveFiles(
    model: RegisteredModel,
    input: VersionInput,
  ): Promise<{ files: VersionFile[]; source: string; runId: string | null; runPath: string | null }> {
    if (input.kind === "resolved") {
      if (input.projectId !== model.projectId) {
        throw new InputError(`the model files belong to another project than model '${model.name}'`);
      }
      return { files: input.files, source: input.source, runId: input.runId, runPath: null };
    }
    if (input.kind === "upload") {
      return {
        files: await checkUploadedFiles(this.deps.blobs, model.projectId, input.files),
        source: "upload",
        runId: null,
        runPath: null,
      };
    }
    const runId = input.kind === "run" ? input.runId : (input.runId ?? runIdOfSource(input.source));
    if (!runId) {
      // An external source (s3://, a path): recorded as given, no files here.
      return { files: [], source: (input as { source: string }).source, runId: null, runPath: null };
    }
    if (!this.deps.runs)
      throw new InputError("model versions from runs need the tracking service; upload the files instead");
    const run = await this.deps.runs.getRun(runId);
    if (!run)
      throw new NotFoundError(`run ${runId} not found`, { mlflowErrorCode: "RESOURCE_DOES_NOT_EXIST" });
    if (run.projectId !== model.projectId) {
      throw new InputError(`run ${runId} belongs to another project than model '${model.name}'`);
    }
    const dir = input.kind === "run" ? (input.path ?? "model") : runDirOfSource(input.source, run);
    if (dir === undefined) {
      return { files: [], source: input.kind === "source" ? input.source : "", runId, runPath: null };
    }
    const source = input.kind === "source" ? input.source : `runs:/${runId}/${dir}`;
    return { files: await filesFromRun(this.deps.runs, run, dir), source, runId, runPath: dir };
  }
}
