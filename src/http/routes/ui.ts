import { createReadStream, existsSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { RouteModule } from "../types.js";

/**
 * The web UI: the Vite build of web/ served at `/`, with a fallback to index.html for the
 * app's own client-side routes. Registered last: every API route is more specific than `/*` and wins.
 */

/** Paths that belong to the API and the server, never to the app: unknown ones keep the API's 404. */
export const SERVER_PREFIXES = [
  "/api",
  "/ajax-api",
  "/v2",
  "/docs",
  "/metrics",
  "/healthz",
  "/readyz",
  "/version",
  "/integrations",
  "/mlflow",
] as const;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
  ".map": "application/json; charset=utf-8",
};

/** Vite names built assets `name-<hash>.ext` under assets/: their content never changes under a name. */
const HASHED_ASSET = /^assets\/.+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/;

export function isServerPath(urlPath: string): boolean {
  return SERVER_PREFIXES.some((prefix) => urlPath === prefix || urlPath.startsWith(`${prefix}/`));
}

/** The built UI: dist-web/ at the repository root, whether this file runs from src/ or from dist/src/. */
export function findWebRoot(): string | undefined {
  const here = path.dirname(fileURLToPath(import.meta.url));
  for (const up of ["../../..", "../../../.."]) {
    const candidate = path.resolve(here, up, "dist-web");
    if (existsSync(path.join(candidate, "index.html"))) return candidate;
  }
  return undefined;
}

const NOT_BUILT = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>mlops-platform</title></head>
<body><main><h1>The web UI is not built</h1><p>Run <code>npm run build</code> (it builds web/ into dist-web/),
then reload. The API is served under <a href="/docs">/docs</a>.</p></main></body></html>`;

/** A file under root for a URL path, or undefined (missing, a directory, or outside root). */
function fileFor(root: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes("\0")) return undefined;
  const file = path.resolve(root, `.${path.posix.normalize(`/${decoded}`)}`);
  if (file !== root && !file.startsWith(root + path.sep)) return undefined;
  try {
    return statSync(file).isFile() ? file : undefined;
  } catch {
    return undefined;
  }
}

function sendFile(reply: FastifyReply, root: string, file: string) {
  const relative = path.relative(root, file).split(path.sep).join("/");
  const type = CONTENT_TYPES[path.extname(file).toLowerCase()] ?? "application/octet-stream";
  const cache = HASHED_ASSET.test(relative) ? "public, max-age=31536000, immutable" : "no-cache";
  return reply
    .type(type)
    .header("cache-control", cache)
    .header("x-content-type-options", "nosniff")
    .header("content-length", statSync(file).size)
    .send(createReadStream(file));
}

export function uiRoutesFor(root: string | undefined): RouteModule {
  return (app) => {
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const urlPath = request.url.split("?")[0];
      if (isServerPath(urlPath)) return reply.callNotFound();
      if (!root) return reply.status(503).type("text/html; charset=utf-8").send(NOT_BUILT);
      const file = fileFor(root, urlPath);
      if (file) return sendFile(reply, root, file);
      // A missing asset is a 404, not the app's page (a stale hashed name must not load HTML as JS).
      if (urlPath.startsWith("/assets/")) return reply.callNotFound();
      // Any other path is a client-side route of the app.
      return sendFile(reply, root, path.join(root, "index.html"));
    };
    const options = { config: { public: true }, schema: { hide: true } };
    app.get("/", options, handler);
    app.get("/*", options, handler);
  };
}

export const uiRoutes: RouteModule = (app, platform) => uiRoutesFor(findWebRoot())(app, platform);
