import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import path from "node:path";
import { type Browser, chromium } from "playwright-core";
import { REPO_ROOT } from "../support/processes.js";

/** Shared by the web UI tests: the Vite build (made when missing or older than web/) and Chromium. */

export const WEB_DIST = path.join(REPO_ROOT, "dist-web");
export const SCREENSHOTS = path.join(REPO_ROOT, "test-results", "ui");
export const CHROMIUM = "/usr/bin/chromium";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(full) : statSync(full).mtimeMs);
  }
  return newest;
}

function isFresh(): boolean {
  const index = path.join(WEB_DIST, "index.html");
  const sources = Math.max(
    newestMtime(path.join(REPO_ROOT, "web", "src")),
    statSync(path.join(REPO_ROOT, "web", "index.html")).mtimeMs,
    statSync(path.join(REPO_ROOT, "web", "vite.config.ts")).mtimeMs,
  );
  return existsSync(index) && statSync(index).mtimeMs >= sources;
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * `npm run build` builds the UI; a test run after editing web/ rebuilds it here so it never tests stale
 * files. Test files run in parallel: a lock directory lets one build while the others wait for it.
 */
export function ensureWebBuild(): void {
  const lock = path.join(REPO_ROOT, ".dist-web.lock");
  const deadline = Date.now() + 180_000;
  for (;;) {
    if (isFresh()) return;
    try {
      mkdirSync(lock);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      // A lock older than the longest build was left by a killed run.
      if (Date.now() - statSync(lock).mtimeMs > 120_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock}`);
      sleep(200);
    }
  }
  try {
    if (isFresh()) return;
    execFileSync(
      process.execPath,
      [
        path.join(REPO_ROOT, "node_modules", "vite", "bin", "vite.js"),
        "build",
        "--config",
        "web/vite.config.ts",
        "--logLevel",
        "warn",
      ],
      // vitest sets NODE_ENV=test, which would make Vite build React's development bundle.
      { cwd: REPO_ROOT, stdio: "inherit", env: { ...process.env, NODE_ENV: "production" } },
    );
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
