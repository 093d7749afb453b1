import { randomBytes } from "node:crypto";
import type { Store } from "../open-store.js";

/**
 * A named secret generated on first use and shared by every control-plane replica: the first replica to
 * insert wins, the others read its value.
 */
export async function serverSecret(store: Store, name: string, bytes = 32): Promise<Buffer> {
  await store.db
    .insertInto("server_secrets")
    .values({ name, value: randomBytes(bytes).toString("base64url"), created_at: Date.now() })
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const row = await store.db
    .selectFrom("server_secrets")
    .select("value")
    .where("name", "=", name)
    .executeTakeFirstOrThrow();
  return Buffer.from(row.value, "base64url");
}
