import { defineConfig } from "vitest/config";
import { E2E_SUITES } from "./test/e2e-suites.js";

// `npm run test:e2e` (MLOPS_TEST_SET=e2e): only the long end-to-end suites; `npm test`: everything.
const e2eOnly = process.env.MLOPS_TEST_SET === "e2e";

export default defineConfig({
  test: {
    include: e2eOnly ? [...E2E_SUITES] : ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: "forks",
    // Most suites wait on real processes, servers and databases rather than the CPU: on 2 cores, three
    // files at a time finish the suite far sooner than vitest's default of (cores - 1) = 1. Every suite
    // has its own database schema, temp dirs and ports, so files do not share state.
    maxWorkers: Number(process.env.MLOPS_TEST_WORKERS) || 3,
    reporters: ["default"],
  },
});
