import { randomUUID } from "node:crypto";
import type { AuditLog } from "../audit/audit-log.js";
import { actorOf, type Principal } from "../auth/principal.js";
import { ConflictError, ForbiddenError, InputError, NotFoundError } from "../errors.js";
import { parseSshPublicKey } from "./ssh-public-key.js";
import type { SshKeyRecord, WorkspaceStore } from "./workspace-store.js";

const MAX_KEYS_PER_USER = 50;

/**
 * Users' SSH public keys (`mlops ssh-key add|list|remove`). A workspace's AuthorizedKeysFile is written
 * from its owner's keys at each start, so a removed key stops working at the next start.
 */
export class SshKeyService {
  constructor(
    private readonly store: Pick<WorkspaceStore, "insertKey" | "keysOf" | "removeKey">,
    private readonly audit: AuditLog,
    private readonly now: () => number = Date.now,
  ) {}

  async add(principal: Principal, input: { publicKey: string; name?: string }): Promise<SshKeyRecord> {
    requireHuman(principal);
    if (typeof input.publicKey !== "string") throw new InputError("publicKey must be a string");
    const parsed = parseSshPublicKey(input.publicKey);
    const name = (input.name ?? parsed.comment).trim().slice(0, 100) || parsed.fingerprint;
    const existing = await this.store.keysOf(principal.userId);
    if (existing.some((key) => key.fingerprint === parsed.fingerprint)) {
      throw new ConflictError(`key ${parsed.fingerprint} is already registered`);
    }
    if (existing.length >= MAX_KEYS_PER_USER)
      throw new ConflictError(`at most ${MAX_KEYS_PER_USER} SSH keys per user`);
    const record: SshKeyRecord = {
      id: randomUUID(),
      userId: principal.userId,
      name,
      type: parsed.type,
      publicKey: parsed.key,
      fingerprint: parsed.fingerprint,
      comment: parsed.comment,
      createdAt: this.now(),
    };
    await this.store.insertKey(record);
    await this.audit.record({
      actor: actorOf(principal),
      action: "ssh_key.added",
      subjectType: "user",
      subjectId: principal.userId,
      details: { keyId: record.id, fingerprint: record.fingerprint, type: record.type, name },
    });
    return record;
  }

  async list(principal: Principal): Promise<SshKeyRecord[]> {
    requireHuman(principal);
    return this.store.keysOf(principal.userId);
  }

  /** By id or fingerprint. */
  async remove(principal: Principal, ref: string): Promise<void> {
    requireHuman(principal);
    const key = (await this.store.keysOf(principal.userId)).find(
      (k) => k.id === ref || k.fingerprint === ref,
    );
    if (!key || !(await this.store.removeKey(principal.userId, key.id)))
      throw new NotFoundError(`SSH key ${ref} not found`);
    await this.audit.record({
      actor: actorOf(principal),
      action: "ssh_key.removed",
      subjectType: "user",
      subjectId: principal.userId,
      details: { keyId: key.id, fingerprint: key.fingerprint },
    });
  }
}

function requireHuman(principal: Principal): void {
  if (principal.scope) throw new ForbiddenError("a workload token cannot manage SSH keys");
}
