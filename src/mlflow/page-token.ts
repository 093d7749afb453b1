import { createHash, createHmac, timingSafeEqual } from "node:crypto";
import { InputError } from "../errors.js";

/**
 * Opaque page tokens for MLflow's `page_token` / `next_page_token` (search runs, experiments, models).
 *
 * A token is `base64url(JSON {offset, q}) + "." + base64url(HMAC-SHA256(secret, payload))[0..22]`:
 * - `offset` is where the next page starts (MLflow itself uses base64 JSON `{"offset": N}`);
 * - `q` fingerprints the query it belongs to (`context`: filter, order_by, experiment ids, ...), so a token
 *   replayed against a different query is refused instead of silently skipping rows;
 * - the MAC makes a modified token fail. With the server's secret it is unforgeable; without one (the
 *   default key) it is a checksum, which is enough here: a forged offset only reaches rows the same
 *   query can page to anyway.
 * base64url keeps the token safe in query strings (GET registered-models/search) without escaping.
 */
export interface PageTokenOptions {
  /** Describes the query; decode must get the same string. Omit for "any query". */
  context?: string;
  /** Server-side secret for the MAC. */
  secret?: string;
}

const DEFAULT_KEY = "mlops-platform page token";
const MAC_LENGTH = 22; // base64url chars = 132 bits
const MAX_TOKEN_LENGTH = 512;

function fingerprint(context: string | undefined): string {
  return context === undefined ? "" : createHash("sha256").update(context).digest("base64url").slice(0, 16);
}

function mac(payload: string, secret: string | undefined): string {
  return createHmac("sha256", secret ?? DEFAULT_KEY)
    .update(payload)
    .digest("base64url")
    .slice(0, MAC_LENGTH);
}

export function encodePageToken(offset: number, opts: PageTokenOptions = {}): string {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError(`Invalid page offset ${offset}`);
  const payload = Buffer.from(JSON.stringify({ offset, q: fingerprint(opts.context) })).toString("base64url");
  return `${payload}.${mac(payload, opts.secret)}`;
}

/** The offset a token stands for; an absent or empty token is offset 0. Throws InputError otherwise. */
export function decodePageToken(token: string | undefined | null, opts: PageTokenOptions = {}): number {
  if (token === undefined || token === null || token === "") return 0;
  const invalid = (why: string) => new InputError(`Invalid page token: ${why}`);
  if (token.length > MAX_TOKEN_LENGTH) throw invalid("too long");
  const [payload, signature, ...rest] = token.split(".");
  if (rest.length > 0 || !payload || !signature || !/^[A-Za-z0-9_-]+$/.test(payload + signature)) {
    throw invalid("could not base64-decode");
  }
  const expected = Buffer.from(mac(payload, opts.secret));
  const given = Buffer.from(signature);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw invalid("it was modified or issued by another server");
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(payload, "base64url").toString("utf8"));
  } catch {
    throw invalid("could not be parsed");
  }
  const { offset, q } = (parsed ?? {}) as { offset?: unknown; q?: unknown };
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) {
    throw invalid("no valid offset");
  }
  if (q !== fingerprint(opts.context)) {
    throw invalid("it belongs to a different query; start again without a page token");
  }
  return offset;
}

/**
 * One page of an in-memory list, MLflow's `SearchUtils.paginate`: the slice at the token's offset and
 * the token for the next page, absent on the last page.
 */
export function paginate<T>(
  items: readonly T[],
  pageToken: string | undefined | null,
  maxResults: number,
  opts: PageTokenOptions = {},
): { items: T[]; nextPageToken?: string } {
  const start = decodePageToken(pageToken, opts);
  const end = start + maxResults;
  const page = items.slice(start, end);
  return end < items.length ? { items: page, nextPageToken: encodePageToken(end, opts) } : { items: page };
}
