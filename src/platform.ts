import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { ArtifactStore } from "./artifacts/artifact-store.js";
import { LocalArtifactStore } from "./artifacts/local-artifact-store.js";
import { BlobOwnership } from "./artifacts/blob-ownership.js";
import { SqlBlobOwnerStore } from "./store/repositories/blob-owners.js";
import { servingLookup } from "./serving/deployments/serving-lookup.js";
import { bundledExampleCode } from "./pipelines/example-code.js";
import type { CodeSource } from "./pipelines/ports.js";
import type { AuditLog } from "./audit/audit-log.js";
import { IdentityService } from "./auth/identity-service.js";
import type { Config } from "./config.js";
import { EgressPolicy } from "./egress/egress-policy.js";
import { WebhookDeliveryLoop } from "./events/delivery-loop.js";
import { registerWebhookMetrics } from "./events/webhook-metrics.js";
import { AuditedEventPublisher, type EventPublisher } from "./events/events.js";
import { WebhookService } from "./events/webhook-service.js";
import { registerAgreementMetrics } from "./data/agreement-metrics.js";
import { createDataServices, type DataServices } from "./data/data-services.js";
import { createMetrics, type HttpMetrics } from "./http/metrics.js";
import { LeaseKeeper } from "./leases/lease-keeper.js";
import { RegistryService } from "./registry/registry-service.js";
import { runLookupFromTracking } from "./registry/tracking-run-lookup.js";
import type { LeaseStore } from "./leases/lease-store.js";
import { migrateToLatest, pendingMigrations } from "./store/migrate.js";
import { openStore, type Store } from "./store/open-store.js";
import { SqlAuditLog } from "./store/repositories/audit.js";
import { SqlDataStore } from "./store/repositories/data.js";
import { SqlImportSessionStore } from "./store/repositories/data-imports.js";
import { SqlJobSecretEnvStore } from "./store/repositories/job-secrets.js";
import { serverSecret } from "./store/repositories/server-secrets.js";
import { ImageUrlSigner } from "./data/signed-urls.js";
import { SqlIdentityStore } from "./store/repositories/identity.js";
import { SqlLeaseStore } from "./store/repositories/leases.js";
import { SqlRegistryStore } from "./store/repositories/registry.js";
import { SqlLoggedModelStore } from "./store/repositories/logged-models.js";
import { SqlTrackingStore } from "./store/repositories/tracking.js";
import { SqlWebhookStore } from "./store/repositories/webhooks.js";
import { LoggedModels } from "./tracking/logged-models.js";
import { RunArtifacts } from "./tracking/run-artifacts.js";
import { RunQueries } from "./tracking/run-queries.js";
import { TrackingService } from "./tracking/tracking-service.js";
import { createServingServices, type ServingServices } from "./serving/serving-services.js";
import { SqlDeploymentStore } from "./store/repositories/serving.js";
import { SqlPredictionStore } from "./store/repositories/serving-predictions.js";
import type { JobService } from "./jobs/job-service.js";
import { createJobSystem } from "./jobs/job-system.js";
import { type JobMetrics, registerJobMetrics } from "./jobs/job-metrics.js";
import { SqlJobStore } from "./store/repositories/jobs.js";
import { createWorkloadBackend } from "./runtime/backends.js";
import { createPipelineServices, type PipelineServices } from "./pipelines/pipeline-services.js";
import { createEvaluationService } from "./evaluation/evaluation-ports.js";
import type { EvaluationService } from "./evaluation/evaluation-service.js";
import { SqlPipelineStore } from "./store/repositories/pipelines.js";
import { type BatchServices, createBatchServices } from "./serving/batch/batch-services.js";
import { SqlBatchStore } from "./store/repositories/batch.js";
import type { Runtime } from "./runtime/runtime.js";
import { publicUrlOf } from "./config.js";
import { registrationParityCheck } from "./serving/runner/parity.js";
import { SqlWorkspaceStore } from "./store/repositories/workspaces.js";
import { registerWorkspaceMetrics } from "./workspaces/workspace-metrics.js";
import { workspaceJobsFrom } from "./workspaces/workspace-jobs.js";
import { createWorkspaceSystem, type WorkspaceSystem } from "./workspaces/workspace-system.js";

export interface Logger {
  info(obj: object | string, msg?: string): void;
  warn(obj: object | string, msg?: string): void;
  error(obj: object | string, msg?: string): void;
}

/** Work that must run in exactly one control-plane process: it runs only while `leader` holds the lease. */
export interface BackgroundLoop {
  name: string;
  start(): void;
  stop(): Promise<void>;
}

/** The services of one control-plane process, wired by `createPlatform` (the composition root's core). */
export interface Platform {
  config: Config;
  store: Store;
  audit: AuditLog;
  identity: IdentityService;
  leases: LeaseStore;
  leader: LeaseKeeper;
  metrics: HttpMetrics;
  /** Content-addressed blobs (run artifacts, model files). */
  artifacts: ArtifactStore;
  /** Which project owns which blob: references by sha256 resolve only for the owner (docs/security.md). */
  blobs: BlobOwnership;
  /** Registry changes and other events: audit log + outgoing webhooks. */
  events: EventPublisher;
  webhooks: WebhookService;
  /** Where outbound requests (webhooks, Label Studio images) may connect: MLOPS_OUTBOUND_ALLOW. */
  egress: EgressPolicy;
  registry: RegistryService;
  /** Experiments and runs (writes); `tracking.lookupRun(id)` for other domains. */
  tracking: TrackingService;
  /** Run search, metric histories, comparison. */
  runQueries: RunQueries;
  /** A run's files; `runArtifacts.find/allFiles` for other domains. */
  runArtifacts: RunArtifacts;
  /** MLflow 3 logged models (`models:/m-<id>`): their params, tags and files. */
  loggedModels: LoggedModels;
  /** Datasets, items, labels, Label Studio webhooks, snapshots, label agreement. */
  data: DataServices;
  /** Signs expiring item-image URLs (batch exports for Label Studio); the key is shared by all replicas. */
  imageUrls: ImageUrlSigner;
  /** GPU jobs: submit, list, cancel, logs; the GPU inventory. */
  jobs: JobService;
  /** Where workloads run (local processes under bubblewrap). */
  runtime: Runtime;
  /** Deployments, online prediction, canary analysis; `serving.models.acquire(versionId)` for batch use. */
  serving: ServingServices;
  /** Retrain policies, the trigger, pipeline runs (the closed loop). */
  pipelines: PipelineServices;
  /** Platform-measured validation (`mlops model evaluate`) and admin-only reported records. */
  evaluation: EvaluationService;
  /** Batch prediction (pseudo-labeling) jobs on the scheduler: create, progress, worker API, exports. */
  batch: BatchServices;
  /** GPU development environments over SSH (a job of kind "workspace" per start), users' SSH keys. */
  workspaces: WorkspaceSystem;
  /** This process's identity in leases: host:pid:random. */
  holderId: string;
  loops: BackgroundLoop[];
  log: Logger;
  /** File holding the generated admin token (only on first start without MLOPS_ADMIN_TOKEN). */
  adminTokenFile?: string;
  /** The URL clients and workloads use, known once the server listens. */
  publicUrl?: string;
  /** The generated admin token, set only on the first start (the caller prints it once). */
  initialAdminToken?: string;
  close(): Promise<void>;
}

export const LEADER_LEASE = "leader";

export async function createPlatform(
  config: Config,
  log: Logger,
  host: { searchPath?: string } = {},
): Promise<Platform> {
  const egress = EgressPolicy.parse(config.outboundAllow);
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });
  try {
    chmodSync(config.dataDir, 0o700); // also when it existed: it holds the database and the admin token
  } catch (err) {
    log.warn({ err, dataDir: config.dataDir }, "cannot make the data dir private (0700)");
  }
  const store = await openStore(
    config.databaseUrl
      ? { postgresUrl: config.databaseUrl, schema: config.databaseSchema }
      : { sqliteFile: path.join(config.dataDir, "mlops.db") },
  );
  const applied = await migrateToLatest(store);
  if (applied.length > 0) log.info({ migrations: applied }, "database migrated");

  const audit = new SqlAuditLog(store);
  const identity = new IdentityService(new SqlIdentityStore(store), audit);
  const leases = new SqlLeaseStore(store);
  const holderId = `${os.hostname()}:${process.pid}:${randomBytes(3).toString("hex")}`;
  const leader = new LeaseKeeper({
    store: leases,
    name: LEADER_LEASE,
    holder: holderId,
    ttlMs: config.leaseTtlMs,
    log: (message, details) => log.info({ ...details }, message),
  });

  let adminTokenFile: string | undefined;
  const boot = await identity.bootstrap(config.adminToken);
  if (boot.generatedToken) {
    adminTokenFile = path.join(config.dataDir, "admin-token");
    writeFileSync(adminTokenFile, `${boot.generatedToken}\n`, { mode: 0o600 });
    chmodSync(adminTokenFile, 0o600);
  }

  const artifacts = await LocalArtifactStore.create({ dataDir: config.dataDir });
  const blobs = new BlobOwnership(new SqlBlobOwnerStore(store), artifacts);
  const webhooks = new WebhookService(new SqlWebhookStore(store), identity, audit, egress);
  const events = new AuditedEventPublisher(audit, webhooks);
  const registry = new RegistryService({
    store: new SqlRegistryStore(store),
    identity,
    artifacts,
    blobs,
    events,
    runs: runLookupFromTracking(new SqlTrackingStore(store)),
    serving: servingLookup(new SqlDeploymentStore(store)),
    parity: registrationParityCheck(artifacts),
  });

  const tracking = new TrackingService(new SqlTrackingStore(store), identity, audit);
  const defaultProject = await identity.getProject(
    { userId: "system", userName: "system", role: "admin", tokenId: "system" },
    "default",
  );
  await tracking.ensureDefaultExperiment(defaultProject.id);

  const data = createDataServices({
    store: new SqlDataStore(store),
    importStore: new SqlImportSessionStore(store),
    identity,
    projects: new SqlIdentityStore(store),
    artifacts,
    audit,
  });

  const imageUrls = new ImageUrlSigner(await serverSecret(store, "image-url-signing"));

  // MLOPS_RUNTIME picks the backend (docs/architecture/runtime-contract.md); the local one by default.
  const workloads = await createWorkloadBackend({
    config,
    artifacts,
    apiUrl: () => platform.publicUrl ?? publicUrlOf(config),
    searchPath: host.searchPath,
  });
  const sandbox = workloads.runtime.describe();
  if (sandbox.sandbox === "none") log.warn({ reason: sandbox.sandboxReason }, "jobs run WITHOUT a sandbox");
  if (sandbox.sandbox === "unavailable") {
    log.error(
      { reason: sandbox.sandboxReason },
      "job execution DISABLED: no working sandbox (MLOPS_SANDBOX=none to override)",
    );
  }
  const jobStore = new SqlJobStore(store);
  let jobMetrics: JobMetrics | undefined;
  const jobSystem = createJobSystem({
    store: jobStore,
    runtime: workloads.runtime,
    inventory: workloads.inventory,
    refreshInventory: workloads.refreshInventory,
    artifacts,
    blobs,
    identity,
    audit,
    tracking,
    isLeader: () => leader.isHeld(),
    apiUrl: () => platform.publicUrl ?? publicUrlOf(config),
    graceMs: config.jobStopGraceSeconds * 1000,
    jobNetwork: config.jobNetwork,
    secretEnv: new SqlJobSecretEnvStore(store),
    log: (level, message, details) => log[level](details ?? {}, message),
    onTransition: (to) => jobMetrics?.onTransition(to),
    onPass: (stats) => jobMetrics?.onPass(stats),
    onScheduled: (gpuType, seconds) => jobMetrics?.onScheduled(gpuType, seconds),
    onStarted: (gpuType, seconds) => jobMetrics?.onStarted(gpuType, seconds),
    onUsage: (samples) => jobMetrics?.onUsage(samples),
  });

  const metrics = createMetrics();
  const workspaceStore = new SqlWorkspaceStore(store);
  const workspaceMetrics = registerWorkspaceMetrics(metrics.registry, workspaceStore, (err) =>
    log.warn({ err }, "workspace metrics unavailable"),
  );
  const workspaces = createWorkspaceSystem({
    store: workspaceStore,
    jobs: workspaceJobsFrom(jobSystem.service),
    runtime: workloads.runtime,
    projects: identity,
    audit,
    isLeader: () => leader.isHeld(),
    idleTimeout: config.workspaceIdleTimeout,
    maxLifetime: config.workspaceMaxLifetime,
    sshHost: config.workspaceSshHost,
    reportSeconds: config.workspaceReportSeconds,
    cli: { node: process.execPath, entry: fileURLToPath(new URL("../bin/mlops.js", import.meta.url)) },
    syncIntervalMs: Math.min(5000, config.workspaceReportSeconds * 1000),
    onIdleStop: workspaceMetrics.onIdleStop,
    log: (message, details) => log.warn(details, message),
  });
  const serving = createServingServices({
    deployments: new SqlDeploymentStore(store),
    predictions: new SqlPredictionStore(store),
    versions: new SqlRegistryStore(store),
    registry,
    artifacts,
    identity,
    events,
    metrics: metrics.registry,
    agreement: data,
    isLeader: () => leader.isHeld(),
    dataDir: config.dataDir,
    imageHosts: config.servingImageHosts
      ?.split(",")
      .map((h) => h.trim())
      .filter(Boolean),
    log: (message, details) => log.warn(details, message),
  });

  const pipelines = createPipelineServices({
    store: new SqlPipelineStore(store),
    data,
    registry,
    jobs: jobSystem.service,
    deployments: serving.deployments,
    tracking,
    models: serving.models,
    artifacts,
    // The bundled example is public code the platform packs itself: every project may run it.
    code: sharedCode(bundledExampleCode(artifacts), blobs),
    audit,
    projects: identity,
    holder: holderId,
    isLeader: () => leader.isHeld(),
    log: (message, details) => log.info(details, message),
  });

  const platform: Platform = {
    config,
    store,
    audit,
    identity,
    leases,
    leader,
    metrics,
    artifacts,
    blobs,
    events,
    webhooks,
    egress,
    registry,
    tracking,
    runQueries: new RunQueries(tracking.access),
    runArtifacts: new RunArtifacts(tracking.access, artifacts),
    loggedModels: new LoggedModels(tracking.access, new SqlLoggedModelStore(store), artifacts),
    data,
    imageUrls,
    holderId,
    jobs: jobSystem.service,
    runtime: workloads.runtime,
    serving,
    pipelines,
    evaluation: createEvaluationService({
      registry,
      snapshots: data.snapshots,
      tracking,
      runArtifacts: new RunArtifacts(tracking.access, artifacts),
      models: serving.models,
      artifacts,
    }),
    batch: createBatchServices({
      store: new SqlBatchStore(store),
      projects: identity,
      models: registry,
      datasets: data.datasets,
      jobs: jobSystem.service,
      artifacts,
      blobs,
      audit,
    }),
    workspaces,
    loops: [
      ...serving.loops,
      jobSystem.loop,
      jobSystem.usageSampler,
      workspaces.loop,
      pipelines.loop,
      new WebhookDeliveryLoop({
        store: new SqlWebhookStore(store),
        egress,
        isLeader: () => leader.isHeld(),
        log: (message, details) => log.warn(details, message),
      }),
    ],
    log,
    adminTokenFile,
    initialAdminToken: boot.generatedToken,
    async close() {
      for (const loop of platform.loops) await loop.stop();
      await workloads.close();
      await serving.close();
      await leader.stop();
      await store.close();
    },
  };
  jobMetrics = registerJobMetrics(platform.metrics.registry, jobStore, workloads.inventory, (err) =>
    log.warn({ err }, "job metrics unavailable"),
  );
  registerAgreementMetrics(
    platform.metrics.registry,
    () => data.agreement.all(),
    (err) => log.warn({ err }, "label agreement metrics unavailable"),
  );
  const webhookStore = new SqlWebhookStore(store);
  registerWebhookMetrics(
    platform.metrics.registry,
    () => webhookStore.countDeliveriesByStatus(),
    (err) => log.warn({ err }, "webhook metrics unavailable"),
  );
  return platform;
}

function sharedCode(source: CodeSource, blobs: BlobOwnership): CodeSource {
  return {
    async bundledExampleDigest() {
      const digest = await source.bundledExampleDigest();
      await blobs.claimForAll(digest);
      return digest;
    },
  };
}

export async function readiness(platform: Platform): Promise<{ ready: boolean; reason?: string }> {
  try {
    const pending = await pendingMigrations(platform.store);
    if (pending.length > 0) return { ready: false, reason: `pending migrations: ${pending.join(", ")}` };
    return { ready: true };
  } catch (err) {
    return { ready: false, reason: `database unreachable: ${(err as Error).message}` };
  }
}

export function startBackgroundWork(platform: Platform): void {
  if (!platform.config.backgroundLoops) return;
  platform.leader.start();
  for (const loop of platform.loops) loop.start();
}
