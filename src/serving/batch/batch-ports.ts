import type { Project } from "../../auth/identity-store.js";
import type { Principal } from "../../auth/principal.js";
import type { Permission } from "../../auth/roles.js";
import type { ItemWithLabel } from "../../data/data-store.js";
import type { DatasetRef } from "../../data/dataset-access.js";
import type { Dataset } from "../../data/model.js";
import type { Job } from "../../jobs/job.js";
import type { SubmitJobInput } from "../../jobs/job-service.js";
import type { ModelVersion, RegisteredModel } from "../../registry/registry-store.js";

/** What batch prediction needs from other domains; the platform's services satisfy these. */

/** The scheduler's job API (JobService). */
export interface BatchJobs {
  submit(principal: Principal, input: SubmitJobInput): Promise<Job>;
  get(principal: Principal, id: string, permission?: Permission): Promise<Job>;
  cancel(principal: Principal, id: string): Promise<Job>;
}

/** The registry's read side (RegistryService). */
export interface BatchModels {
  getModel(
    principal: Principal,
    project: string,
    name: string,
    permission?: Permission,
  ): Promise<RegisteredModel>;
  getVersion(
    principal: Principal,
    project: string,
    name: string,
    version: string | number,
    permission?: Permission,
  ): Promise<{ model: RegisteredModel; version: ModelVersion }>;
  listVersions(principal: Principal, project: string, name: string): Promise<ModelVersion[]>;
}

/** Datasets and their items (DatasetService). */
export interface BatchDatasets {
  get(principal: Principal, ref: DatasetRef): Promise<Dataset>;
  listItems(
    principal: Principal,
    ref: DatasetRef,
    options: { after?: string; limit?: number },
  ): Promise<{ items: ItemWithLabel[]; nextCursor?: string }>;
}

export interface BatchProjects {
  getProject(principal: Principal, idOrName: string, permission?: Permission): Promise<Project>;
  listProjects(principal: Principal): Promise<Project[]>;
}
