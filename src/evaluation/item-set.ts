import { createHash } from "node:crypto";

/** sha256 of the sorted item ids: what was evaluated, comparable with a snapshot's split later. */
export function itemSetSha256(ids: readonly string[]): string {
  return createHash("sha256")
    .update([...ids].sort().join("\n"))
    .digest("hex");
}
