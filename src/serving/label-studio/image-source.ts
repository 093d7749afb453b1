import type { EgressPolicy } from "../../egress/egress-policy.js";
import { OutboundError, readLimited, type Resolver, sendOutbound } from "../../egress/outbound-client.js";
import { ForbiddenError, InputError } from "../../errors.js";

export interface ImageSourceOptions {
  /** This server's public URL: images under it are fetched with the caller's own Authorization header. */
  ownUrl?: string;
  /** Hosts (name or name:port) that task image URLs may name besides this server (MLOPS_SERVING_IMAGE_HOSTS). */
  allowedHosts: string[];
  /** Label Studio's URL from /setup, for relative paths like `/data/upload/1/x.png` (must be allowed too). */
  labelStudioUrl?: string;
  /**
   * The deployment's project id: a relative dataset path (`/api/v1/datasets/shapes/items/k/image`) names a
   * dataset of the deployment's project, not of the `default` project, unless it says `?project=` itself.
   */
  projectId?: string;
  /** The caller's Authorization header, forwarded only to this server. */
  authorization?: string;
  /** Which addresses may be connected to (MLOPS_OUTBOUND_ALLOW); this server's own URL is exempt. */
  egress: EgressPolicy;
  /** Counts bytes as they arrive and throws past a cap (see ImageAllowance). */
  take: (bytes: number) => void;
  timeoutMs?: number;
  /** The whole request's deadline: tasks still fetching when it passes fail. */
  deadline?: AbortSignal;
  resolve?: Resolver;
}

const MAX_REDIRECTS = 3;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Gets the image a Label Studio task points at, without turning the server into an open proxy or a port
 * scanner (docs/security.md, network egress). Fetched are only: `data:` URLs; this server's own public
 * URL (relative `/api/...` paths count as ours) — allowed deliberately, whatever its address, because
 * tasks point at dataset item images this server serves, and only there is the caller's Authorization
 * forwarded; and hosts in MLOPS_SERVING_IMAGE_HOSTS, whose addresses must also pass the egress policy
 * (loopback and private ones only when in MLOPS_OUTBOUND_ALLOW). Redirects get the same checks again.
 * The body is streamed through `take`, so an oversized image is dropped, not buffered.
 */
export async function fetchTaskImage(ref: string, o: ImageSourceOptions): Promise<Uint8Array> {
  if (ref.startsWith("data:")) return decodeDataUrl(ref, o.take);
  let url = resolve(ref, o);
  const timeout = AbortSignal.timeout(o.timeoutMs ?? 10_000);
  const signal = o.deadline ? AbortSignal.any([timeout, o.deadline]) : timeout;
  for (let hop = 0; ; hop++) {
    const own = isOwn(url, o.ownUrl);
    if (!own && !isAllowedHost(url, o.allowedHosts)) {
      if (hop > 0) throw new OutboundError(`redirect to ${url.host}, which is not an allowed image host`);
      throw new ForbiddenError(
        `image URL host ${url.host} is not allowed; use a data: URL, this server's item URLs, or add the host to MLOPS_SERVING_IMAGE_HOSTS`,
      );
    }
    const response = await sendOutbound(url, {
      method: "GET",
      headers: own && o.authorization ? { authorization: o.authorization } : {},
      signal,
      policy: o.egress,
      trusted: own,
      resolve: o.resolve,
    });
    const status = response.statusCode ?? 0;
    const location = response.headers.location;
    if (REDIRECTS.has(status) && location && hop < MAX_REDIRECTS) {
      response.destroy();
      try {
        url = new URL(location, url);
      } catch {
        throw new OutboundError(`redirect to an invalid URL ${location.slice(0, 200)}`);
      }
      continue;
    }
    if (status !== 200) {
      response.destroy();
      throw new InputError(`fetching the image answered HTTP ${status}`);
    }
    const declared = Number(response.headers["content-length"] ?? "0");
    if (declared > 0) {
      // Counted up front: a declared oversize is refused before a byte of it is read. (The HTTP parser
      // ends the body at the declared length, so no more than that can arrive.)
      try {
        o.take(declared);
      } catch (err) {
        response.destroy();
        throw err;
      }
      return readLimited(response, () => {});
    }
    return readLimited(response, o.take);
  }
}

function resolve(ref: string, o: ImageSourceOptions): URL {
  let url: URL;
  try {
    if (ref.startsWith("/")) {
      // Relative: ours for /api/..., else Label Studio's own files (uploads) when /setup told us its URL.
      const base = ref.startsWith("/api/") ? o.ownUrl : (o.labelStudioUrl ?? o.ownUrl);
      if (!base) throw new InputError(`relative image URL ${ref.slice(0, 200)} without a base URL`);
      url = new URL(ref, base);
      if (o.projectId && url.pathname.startsWith("/api/v1/datasets/") && !url.searchParams.has("project")) {
        url.searchParams.set("project", o.projectId);
      }
    } else url = new URL(ref);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`invalid image URL ${JSON.stringify(ref.slice(0, 200))}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InputError(`unsupported image URL scheme ${url.protocol}`);
  return url;
}

function decodeDataUrl(ref: string, take: (bytes: number) => void): Uint8Array {
  const comma = ref.indexOf(",");
  const header = ref.slice(5, comma);
  if (comma < 0 || !header.endsWith(";base64"))
    throw new InputError("data: image URLs must be base64 encoded");
  const payload = ref.length - comma - 1;
  take(Math.floor((payload * 3) / 4));
  const bytes = Buffer.from(ref.slice(comma + 1), "base64");
  if (bytes.length === 0) throw new InputError("the data: image URL is empty");
  return bytes;
}

function isOwn(url: URL, ownUrl: string | undefined): boolean {
  if (!ownUrl) return false;
  const own = new URL(ownUrl);
  return url.protocol === own.protocol && url.host === own.host;
}

function isAllowedHost(url: URL, allowed: string[]): boolean {
  return allowed.some(
    (h) => h.toLowerCase() === url.host.toLowerCase() || h.toLowerCase() === url.hostname.toLowerCase(),
  );
}
