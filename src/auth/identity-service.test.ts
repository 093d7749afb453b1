import { afterEach, beforeEach, expect, it } from "vitest";
import { createMigratedStore, describeEachDatabase } from "../../test/support/databases.js";
import { SqlAuditLog } from "../store/repositories/audit.js";
import { SqlIdentityStore } from "../store/repositories/identity.js";
import type { Store } from "../store/open-store.js";
import { IdentityService, TOKEN_CACHE_MS } from "./identity-service.js";

describeEachDatabase("token cache of authenticate", (kind) => {
  let store: Store;
  let cleanup: () => Promise<void>;
  let clock: number;
  let identity: IdentityService;
  let sqlIdentity: SqlIdentityStore;
  const ADMIN = "mlops_cache-test-admin-token-0123456789";

  beforeEach(async () => {
    ({ store, cleanup } = await createMigratedStore(kind));
    clock = 1_000_000;
    sqlIdentity = new SqlIdentityStore(store);
    identity = new IdentityService(sqlIdentity, new SqlAuditLog(store), () => clock);
    await identity.bootstrap(ADMIN);
  });
  afterEach(async () => {
    await cleanup();
  });

  it("refuses a token revoked through this process at once", async () => {
    const admin = await identity.authenticate(ADMIN);
    const issued = await identity.createToken(admin, { name: "t" });
    await identity.authenticate(issued.token);
    await identity.revokeToken(admin, issued.info.id);
    await expect(identity.authenticate(issued.token)).rejects.toThrow("invalid or revoked API token");
  });

  it("sees a revocation made by another process within the cache TTL", async () => {
    const admin = await identity.authenticate(ADMIN);
    const issued = await identity.createToken(admin, { name: "t" });
    await identity.authenticate(issued.token);
    // Another process revokes it in the shared database: this process trusts its cache for at most the TTL.
    await sqlIdentity.revokeToken(issued.info.id, clock);
    clock += TOKEN_CACHE_MS - 1;
    await expect(identity.authenticate(issued.token)).resolves.toMatchObject({ tokenId: issued.info.id });
    clock += 1;
    await expect(identity.authenticate(issued.token)).rejects.toThrow("invalid or revoked API token");
  });

  it("expires a cached token at exactly its expiry time", async () => {
    const admin = await identity.authenticate(ADMIN);
    const issued = await identity.createToken(admin, { name: "t", expiresInSeconds: 1 });
    clock += 999;
    await expect(identity.authenticate(issued.token)).resolves.toMatchObject({ tokenId: issued.info.id });
    clock += 1;
    await expect(identity.authenticate(issued.token)).rejects.toThrow("API token has expired");
  });
});
