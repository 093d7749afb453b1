import { InputError } from "../errors.js";

/**
 * Artifact paths are the names a run (or model version) gives its files: `model/model.onnx`,
 * `plots/loss.png`. They are always relative, `/`-separated, and never leave their root.
 *
 * Decoding: these functions do NOT percent-decode. The HTTP layer decodes a URL path exactly once
 * (Fastify does this for route params) and passes the decoded text here. A path that still holds a
 * percent-encoded dot, slash, backslash or NUL (`%2e`, `%2f`, `%5c`, `%00`) after that one decoding was
 * double-encoded — the classic `%252e%252e` trick — and is rejected, so that no later layer that decodes
 * again (a proxy, an S3 key, a client) can turn it into `..`. Any other `%` is an ordinary character.
 */

/** Longest accepted path, in UTF-8 bytes (leaves room under PATH_MAX once joined to a root). */
export const MAX_ARTIFACT_PATH_BYTES = 1024;
/** Longest accepted segment, in UTF-8 bytes (NAME_MAX on common filesystems). */
export const MAX_ARTIFACT_SEGMENT_BYTES = 255;
/** Deepest accepted nesting. */
export const MAX_ARTIFACT_PATH_DEPTH = 64;

const ENCODED_SEPARATOR_OR_DOT = /%(2e|2f|5c|00)/i;
const WINDOWS_DRIVE = /^[A-Za-z]:/;

// C0 controls and DEL: NUL truncates C strings; newlines break headers (Content-Disposition) and logs.
function hasControlChar(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function reject(original: string, why: string): never {
  // Clip the echo so that a hostile multi-kilobyte path does not end up whole in logs and replies.
  const shown = original.length > 200 ? `${original.slice(0, 200)}...` : original;
  throw new InputError(`Invalid artifact path '${shown}': ${why}`, { reason: why });
}

/**
 * Validates and normalizes a relative artifact path: `a//b/./c/` -> `a/b/c`.
 * Throws InputError for: an empty result, absolute paths (`/x`, `C:x`), `..` segments, backslashes,
 * NUL and other control characters, residual percent-encoded dots/separators, segments over 255 bytes,
 * paths over 1024 bytes or deeper than 64 segments.
 */
export function normalizeArtifactPath(path: string): string {
  if (typeof path !== "string") reject(String(path), "not a string");
  if (Buffer.byteLength(path, "utf8") > MAX_ARTIFACT_PATH_BYTES) {
    reject(path, `longer than ${MAX_ARTIFACT_PATH_BYTES} bytes`);
  }
  if (hasControlChar(path)) reject(path, "contains a control character (NUL, newline, ...)");
  if (path.includes("\\")) reject(path, "contains a backslash; use '/' as the separator");
  if (ENCODED_SEPARATOR_OR_DOT.test(path)) {
    reject(path, "contains a percent-encoded '.', '/', '\\' or NUL (double-encoded?)");
  }
  if (path.startsWith("/")) reject(path, "absolute paths are not allowed");
  if (WINDOWS_DRIVE.test(path)) reject(path, "drive-qualified paths are not allowed");

  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") reject(path, "'..' segments are not allowed");
    if (Buffer.byteLength(segment, "utf8") > MAX_ARTIFACT_SEGMENT_BYTES) {
      reject(path, `a segment is longer than ${MAX_ARTIFACT_SEGMENT_BYTES} bytes`);
    }
    segments.push(segment);
  }
  if (segments.length === 0) reject(path, "empty path");
  if (segments.length > MAX_ARTIFACT_PATH_DEPTH) {
    reject(path, `deeper than ${MAX_ARTIFACT_PATH_DEPTH} segments`);
  }
  return segments.join("/");
}

/**
 * Like normalizeArtifactPath, but an absent, empty or root-only path (`""`, `"."`, `"./"`) means "the root"
 * and yields `""`. For listing endpoints (`artifacts/list?path=`) where no path is meaningful.
 */
export function normalizeArtifactDir(path: string | undefined | null): string {
  if (path === undefined || path === null) return "";
  if (/^[./]*$/.test(path) && !path.includes("..") && !path.startsWith("/")) return "";
  return normalizeArtifactPath(path);
}

/** Joins already-normalized parts (either may be the root `""`) and validates the result. */
export function joinArtifactPath(...parts: string[]): string {
  return normalizeArtifactPath(parts.filter((p) => p !== "").join("/"));
}

/** True when `path` is `dir` itself or lies under it (both normalized; `""` is the root). */
export function isUnderArtifactDir(path: string, dir: string): boolean {
  return dir === "" || path === dir || path.startsWith(`${dir}/`);
}
