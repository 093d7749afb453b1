import { spawnSync } from "node:child_process";
import { describe, it } from "vitest";
import { findOnPath, LAUNCHER_ENV, probeBubblewrap } from "../../src/runtime/local/sandbox.js";

/** Whether the job sandbox works on this machine (bubblewrap, setpriv, namespaces). */
export const sandbox = await probeBubblewrap(findOnPath("bwrap", LAUNCHER_ENV.PATH));
/** A C compiler for the LD_PRELOAD attack library. */
export const compiler = spawnSync("cc", ["--version"]).status === 0;

/**
 * A sandbox suite: runs where the sandbox works; elsewhere skipped — except under CI=true, where a
 * missing sandbox (or compiler, when needed) must fail the run instead of passing it by skipping.
 */
export function describeSandboxed(name: string, body: () => void, needs: { compiler?: boolean } = {}): void {
  const missing = !sandbox.available
    ? `no working sandbox: ${sandbox.reason}`
    : needs.compiler && !compiler
      ? "no C compiler (cc)"
      : null;
  if (missing === null) describe(name, body);
  else if (process.env.CI === "true") {
    describe(name, () => {
      it("has what the sandbox tests need (CI=true: they must run)", () => {
        throw new Error(`CI=true: ${missing}`);
      });
    });
  } else describe.skip(`${name} (${missing})`, body);
}
