import { isIP } from "node:net";
import { ForbiddenError, InputError, PayloadTooLargeError } from "../../errors.js";

export interface ImageSourceOptions {
  /** This server's public URL: images under it are fetched with the caller's own Authorization header. */
  ownUrl?: string;
  /** Hosts (name or name:port) allowed besides loopback and this server. */
  allowedHosts: string[];
  /** Label Studio's URL from /setup, for relative paths like `/data/upload/1/x.png` (must be allowed too). */
  labelStudioUrl?: string;
  /** The caller's Authorization header, forwarded only to this server. */
  authorization?: string;
  maxBytes: number;
  timeoutMs?: number;
}

/**
 * Gets the image a Label Studio task points at, without turning the server into an open proxy: only
 * `data:` URLs, URLs on loopback addresses, this server's own URLs (item images, artifacts; relative
 * `/api/...` paths count as ours) and configured hosts (MLOPS_SERVING_IMAGE_HOSTS) are fetched. No
 * redirects are followed (one could point anywhere); size and time are capped.
 */
export async function fetchTaskImage(ref: string, o: ImageSourceOptions): Promise<Uint8Array> {
  if (ref.startsWith("data:")) return decodeDataUrl(ref, o.maxBytes);
  const url = resolve(ref, o);
  const own = o.ownUrl ? sameOrigin(url, new URL(o.ownUrl)) : false;
  if (!own && !isLoopback(url.hostname) && !isAllowedHost(url, o.allowedHosts)) {
    throw new ForbiddenError(
      `image URL host ${url.host} is not allowed; use a data: URL, this server's item URLs, or add the host to MLOPS_SERVING_IMAGE_HOSTS`,
    );
  }
  if (url.protocol !== "http:" && url.protocol !== "https:")
    throw new InputError(`unsupported image URL scheme ${url.protocol}`);
  const headers: Record<string, string> = {};
  if (own && o.authorization) headers.authorization = o.authorization;
  let response: Response;
  try {
    response = await fetch(url, {
      headers,
      redirect: "manual",
      signal: AbortSignal.timeout(o.timeoutMs ?? 10_000),
    });
  } catch (err) {
    throw new InputError(`cannot fetch image ${url.href}: ${(err as Error).message}`);
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new InputError(`fetching image ${url.href} answered HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get("content-length") ?? "0");
  if (declared > o.maxBytes) {
    await response.body?.cancel();
    throw new PayloadTooLargeError(`image ${url.href} is larger than ${o.maxBytes} bytes`);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > o.maxBytes)
      throw new PayloadTooLargeError(`image ${url.href} is larger than ${o.maxBytes} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function resolve(ref: string, o: ImageSourceOptions): URL {
  try {
    if (ref.startsWith("/")) {
      // Relative: ours for /api/..., else Label Studio's own files (uploads) when /setup told us its URL.
      const base = ref.startsWith("/api/") ? o.ownUrl : (o.labelStudioUrl ?? o.ownUrl);
      if (!base) throw new InputError(`relative image URL ${ref} without a base URL`);
      return new URL(ref, base);
    }
    return new URL(ref);
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`invalid image URL ${JSON.stringify(ref.slice(0, 200))}`);
  }
}

function decodeDataUrl(ref: string, maxBytes: number): Uint8Array {
  const comma = ref.indexOf(",");
  const header = ref.slice(5, comma);
  if (comma < 0 || !header.endsWith(";base64"))
    throw new InputError("data: image URLs must be base64 encoded");
  const bytes = Buffer.from(ref.slice(comma + 1), "base64");
  if (bytes.length > maxBytes) throw new PayloadTooLargeError(`image is larger than ${maxBytes} bytes`);
  if (bytes.length === 0) throw new InputError("the data: image URL is empty");
  return bytes;
}

function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host;
}

export function isLoopback(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  if (isIP(host) === 4) return host.startsWith("127.");
  if (isIP(host) === 6) return host === "::1";
  return false;
}

function isAllowedHost(url: URL, allowed: string[]): boolean {
  return allowed.some(
    (h) => h.toLowerCase() === url.host.toLowerCase() || h.toLowerCase() === url.hostname.toLowerCase(),
  );
}
