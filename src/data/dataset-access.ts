import { DEFAULT_PROJECT, type IdentityService } from "../auth/identity-service.js";
import type { IdentityStore } from "../auth/identity-store.js";
import type { Principal } from "../auth/principal.js";
import type { Permission } from "../auth/roles.js";
import type { Project } from "../auth/identity-store.js";
import { ForbiddenError, NotFoundError } from "../errors.js";
import type { DataStore, DatasetRecord } from "./data-store.js";

/** How callers name a dataset: its id, or its name within a project (default: `default`). */
export interface DatasetRef {
  project?: string;
  dataset: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds a dataset and checks the caller's permission in its project (ForbiddenError otherwise). */
export class DatasetAccess {
  constructor(
    private readonly store: DataStore,
    private readonly identity: IdentityService,
    private readonly projects: Pick<IdentityStore, "findProject">,
  ) {}

  /** The dataset, without any permission check (webhooks authenticate by secret). */
  async find(ref: DatasetRef): Promise<DatasetRecord | undefined> {
    if (UUID.test(ref.dataset)) {
      const byId = await this.store.findDatasetById(ref.dataset);
      if (byId) return byId;
    }
    const project = await this.projects.findProject(ref.project ?? DEFAULT_PROJECT);
    return project ? this.store.findDataset(project.id, ref.dataset) : undefined;
  }

  async resolve(principal: Principal, ref: DatasetRef, permission: Permission): Promise<DatasetRecord> {
    if (UUID.test(ref.dataset)) {
      const byId = await this.store.findDatasetById(ref.dataset);
      if (byId) {
        await this.identity.getProject(principal, byId.projectId, permission);
        return byId;
      }
    }
    const project = await this.identity.getProject(principal, ref.project ?? DEFAULT_PROJECT, permission);
    const dataset = await this.store.findDataset(project.id, ref.dataset);
    if (!dataset) throw new NotFoundError(`dataset ${ref.dataset} not found in project ${project.name}`);
    return dataset;
  }

  /** For a dataset already loaded (e.g. through a snapshot). */
  async authorize(principal: Principal, dataset: DatasetRecord, permission: Permission): Promise<void> {
    await this.identity.getProject(principal, dataset.projectId, permission);
  }

  /** Like resolve, with the first of several permissions the caller holds (e.g. read or label). */
  async resolveAny(principal: Principal, ref: DatasetRef, permissions: Permission[]): Promise<DatasetRecord> {
    let denied: unknown;
    for (const permission of permissions) {
      try {
        return await this.resolve(principal, ref, permission);
      } catch (err) {
        if (!(err instanceof ForbiddenError)) throw err;
        denied = err;
      }
    }
    throw denied;
  }

  async projectFor(
    principal: Principal,
    project: string | undefined,
    permission: Permission,
  ): Promise<Project> {
    return this.identity.getProject(principal, project ?? DEFAULT_PROJECT, permission);
  }

  /** Projects whose datasets the caller may read. */
  async readableProjectIds(principal: Principal): Promise<string[]> {
    const ids: string[] = [];
    for (const project of await this.identity.listProjects(principal)) {
      try {
        await this.identity.authorizeProject(principal, project, "read");
        ids.push(project.id);
      } catch (err) {
        if (!(err instanceof ForbiddenError)) throw err;
      }
    }
    return ids;
  }
}
