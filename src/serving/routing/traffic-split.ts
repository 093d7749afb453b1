/**
 * Traffic split between a deployment's primary and canary. A request with a routing key lands in the
 * bucket `hash(key) mod 10000 / 100`, a point in [0, 100); it goes to the canary when that point is
 * below the canary's weight. So one key always gets the same version for a given weight, and a key that
 * is on the canary stays there while the weight grows (steps only add buckets). Requests without a key
 * draw a random point.
 */
const BUCKETS = 10_000;

/** FNV-1a (32 bit) over the UTF-16 code units, finished with a murmur3 avalanche: fast and well spread. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The key's point in [0, 100), in steps of 0.01. */
export function bucketOf(key: string): number {
  return (hashKey(key) % BUCKETS) / 100;
}

export type Route = "primary" | "canary";

/** Where one request goes, for a canary weight in percent. */
export function chooseRoute(
  canaryWeight: number,
  routingKey?: string,
  random: () => number = Math.random,
): Route {
  if (!(canaryWeight > 0)) return "primary";
  if (canaryWeight >= 100) return "canary";
  const point = routingKey ? bucketOf(routingKey) : random() * 100;
  return point < canaryWeight ? "canary" : "primary";
}
