import { LocalArtifactStore } from "../../src/artifacts/local-artifact-store.js";
import type { ReplicaSpec } from "../../src/runtime/runtime.js";
import { createRuntime, makeLayout } from "../support/runtime-harness.js";
import { packContractCode, runtimeContractSuite } from "./contract-suite.js";

/**
 * The contract suite on the local runtime, sandboxed with bubblewrap as in production. There is no skip:
 * where bubblewrap does not work, setup fails (the local runtime's sandbox is part of its contract).
 */
runtimeContractSuite("local (bubblewrap)", async () => {
  const layout = makeLayout("contract-local-");
  const artifacts = await LocalArtifactStore.create({ dataDir: layout.dataDir, fsync: false });
  const code = await packContractCode(artifacts, layout.root);
  const open = () => createRuntime(layout, { defaultGraceMs: 2000, artifacts });
  const runtime = await open();
  const description = runtime.describe();
  if (description.sandbox !== "bubblewrap") {
    throw new Error(`the local runtime needs a working bubblewrap here: ${description.sandboxReason}`);
  }
  let latest = runtime;
  return {
    runtime,
    restart: async () => {
      latest = await open();
      return latest;
    },
    specFor: (partial): ReplicaSpec => ({
      attempt: 0,
      replicaIndex: 0,
      env: {},
      resources: { cpu: 1, memoryMiB: 512, gpus: 0 },
      timeoutSeconds: null,
      ...partial,
    }),
    cleanup: async () => {
      for (const status of await latest.reconcile()) {
        if (!status.exit) await latest.stop(status.replicaId, { graceMs: 0 });
      }
      await latest.close();
      layout.cleanup();
    },
    capabilities: { workspaces: true, usage: true },
    code,
    slackMs: 3000,
  };
});
