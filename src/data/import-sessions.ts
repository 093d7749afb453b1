import { randomUUID } from "node:crypto";
import { actorOf, type Principal } from "../auth/principal.js";
import { ConflictError, InputError, NotFoundError } from "../errors.js";
import type { DatasetAccess, DatasetRef } from "./dataset-access.js";

/**
 * A bulk import (`mlops data import`) arrives as many batches of items over minutes. It declares itself as an
 * import session so the retrain trigger waits until it has settled instead of snapshotting half of it
 * (docs/architecture/data.md, "Import sessions and the trigger").
 */
export interface ImportSession {
  id: string;
  datasetId: string;
  source: string;
  items: number;
  startedAt: number;
  lastActivityAt: number;
  finishedAt: number | null;
  createdBy: string;
}

/** An import that stopped sending batches for this long (a crashed CLI) no longer holds the trigger back. */
export const IMPORT_IDLE_EXPIRY_MS = 10 * 60_000;

export interface ImportSessionStore {
  insertImport(session: ImportSession): Promise<void>;
  /** Adds items and bumps activity on an unfinished session; false when it is finished or unknown. */
  touchImport(id: string, items: number, at: number): Promise<boolean>;
  finishImport(id: string, at: number): Promise<boolean>;
  getImport(id: string): Promise<ImportSession | undefined>;
  /** Unfinished sessions of a dataset active since `activeSince`. */
  openImports(datasetId: string, activeSince: number): Promise<ImportSession[]>;
  /** When the dataset's labels last changed (newest revision), null without any. */
  lastLabelChangeAt(datasetId: string): Promise<number | null>;
}

/** What the retrain trigger needs to know about labels still arriving. */
export interface SettleFacts {
  openImports: ImportSession[];
  lastLabelChangeAt: number | null;
}

const MAX_SOURCE = 500;

export class ImportSessionService {
  constructor(
    private readonly store: ImportSessionStore,
    private readonly access: DatasetAccess,
    private readonly now: () => number,
  ) {}

  async begin(principal: Principal, ref: DatasetRef, source: string): Promise<ImportSession> {
    if (typeof source !== "string" || source.length > MAX_SOURCE) {
      throw new InputError(`source must be a string of at most ${MAX_SOURCE} characters`);
    }
    const dataset = await this.access.resolve(principal, ref, "write");
    const at = this.now();
    const session: ImportSession = {
      id: randomUUID(),
      datasetId: dataset.id,
      source: source || "import",
      items: 0,
      startedAt: at,
      lastActivityAt: at,
      finishedAt: null,
      createdBy: actorOf(principal),
    };
    await this.store.insertImport(session);
    return session;
  }

  /** Called with each batch of items the import adds (keeps the session active). */
  async touch(principal: Principal, ref: DatasetRef, id: string, items: number): Promise<ImportSession> {
    const session = await this.owned(principal, ref, id);
    if (!(await this.store.touchImport(session.id, items, this.now()))) {
      throw new ConflictError(`import ${id} is already finished`);
    }
    return (await this.store.getImport(id)) as ImportSession;
  }

  async finish(principal: Principal, ref: DatasetRef, id: string): Promise<ImportSession> {
    const session = await this.owned(principal, ref, id);
    if (session.finishedAt === null) await this.store.finishImport(session.id, this.now());
    return (await this.store.getImport(id)) as ImportSession;
  }

  async settleFacts(datasetId: string): Promise<SettleFacts> {
    const [openImports, lastLabelChangeAt] = await Promise.all([
      this.store.openImports(datasetId, this.now() - IMPORT_IDLE_EXPIRY_MS),
      this.store.lastLabelChangeAt(datasetId),
    ]);
    return { openImports, lastLabelChangeAt };
  }

  private async owned(principal: Principal, ref: DatasetRef, id: string): Promise<ImportSession> {
    const dataset = await this.access.resolve(principal, ref, "write");
    const session = await this.store.getImport(id);
    // Another dataset's session reads as unknown: ids do not reveal imports elsewhere.
    if (!session || session.datasetId !== dataset.id) throw new NotFoundError(`import ${id} not found`);
    return session;
  }
}
