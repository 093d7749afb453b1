/**
 * The long end-to-end loop tests: real training, real servers, real clusters, a real browser. `npm test`
 * runs them with everything else; `npm run test:e2e` runs only these (vitest.config.ts reads this list).
 */
export const E2E_SUITES = [
  "test/pipeline-loop.test.ts",
  "test/pipeline-restart.test.ts",
  "test/jobs-training-e2e.test.ts",
  "test/distributed-ddp.test.ts",
  "test/demo-cli.test.ts",
  "test/slurm-jobs.test.ts",
  "test/slurm-batch.test.ts",
  "test/workspaces-ssh.test.ts",
  "test/workspaces-idle.test.ts",
  "test/ui/web-ui.test.ts",
  "test/batch-prediction.test.ts",
];
