// `npm start` / `npm test` on a fresh clone: install dependencies when node_modules is missing or stale.
import { execSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";

const lock = "package-lock.json";
const marker = "node_modules/.package-lock.json";
const stale =
  !existsSync(marker) || (existsSync(lock) && statSync(lock).mtimeMs > statSync(marker).mtimeMs + 1000);
if (stale) {
  console.error("[mlops] installing dependencies (npm ci)...");
  // onnxruntime-node would fetch CUDA binaries on linux/x64; serving uses the CPU build it ships.
  execSync("npm ci --no-audit --no-fund", {
    stdio: "inherit",
    env: { ...process.env, ONNXRUNTIME_NODE_INSTALL: "skip" },
  });
}
