import { randomBytes } from "node:crypto";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AuditLog } from "./audit/audit-log.js";
import { IdentityService } from "./auth/identity-service.js";
import type { Config } from "./config.js";
import { createMetrics, type HttpMetrics } from "./http/metrics.js";
import { LeaseKeeper } from "./leases/lease-keeper.js";
import type { LeaseStore } from "./leases/lease-store.js";
import { migrateToLatest, pendingMigrations } from "./store/migrate.js";
import { openStore, type Store } from "./store/open-store.js";
import { SqlAuditLog } from "./store/repositories/audit.js";
import { SqlIdentityStore } from "./store/repositories/identity.js";
import { SqlLeaseStore } from "./store/repositories/leases.js";

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

export async function createPlatform(config: Config, log: Logger): Promise<Platform> {
  mkdirSync(config.dataDir, { recursive: true });
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

  const platform: Platform = {
    config,
    store,
    audit,
    identity,
    leases,
    leader,
    metrics: createMetrics(),
    holderId,
    loops: [],
    log,
    adminTokenFile,
    initialAdminToken: boot.generatedToken,
    async close() {
      for (const loop of platform.loops) await loop.stop();
      await leader.stop();
      await store.close();
    },
  };
  return platform;
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
