import type { Principal } from "../../auth/principal.js";
import type { Job } from "../../jobs/job.js";
import { bundledExampleCode } from "../../pipelines/example-code.js";
import { isEndState, type PipelineRun } from "../../pipelines/pipeline-run.js";
import type { Platform } from "../../platform.js";
import { DEFAULT_CLASSES } from "../synthetic-data.js";
import { generateImages } from "./images.js";
import { SimulatedLabelStudio } from "./labeling-tool.js";
import { PlatformClient } from "./platform-client.js";
import type { LoopReporter } from "./reporter.js";
import type { LoopScale } from "./scales.js";
import { summarize, type LoopSummary, type VersionSummary } from "./summary.js";
import { TrafficGenerator, type TrafficStats } from "./traffic.js";

export interface LoopEnv {
  platform: Platform;
  url: string;
  token: string;
  project?: string;
  model?: string;
  dataset?: string;
  deployment?: string;
  /** Give up after this long (ms); the demo must never hang. */
  deadlineMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The closed loop of docs/sequence/model-lifecycle.md, end to end against a running platform: data, v1 (a real training job),
 * validation and promotion, a production deployment, live traffic, simulated Label Studio labelers on shifted
 * data, the retrain pipeline firing and promoting v2 through a canary, then a corrupted candidate stopped.
 */
export async function runClosedLoop(
  env: LoopEnv,
  scale: LoopScale,
  report: LoopReporter,
): Promise<LoopSummary> {
  const { platform } = env;
  const project = env.project ?? "default";
  const model = env.model ?? "shapes";
  const datasetName = env.dataset ?? "shapes";
  const deployment = env.deployment ?? "shapes";
  const deadline = Date.now() + (env.deadlineMs ?? 15 * 60_000);
  const started = Date.now();
  const timings: Record<string, number> = {};
  const timed = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    try {
      return await work();
    } finally {
      timings[name] = (Date.now() - t0) / 1000;
    }
  };
  const client = new PlatformClient(env.url, env.token);
  const admin: Principal = await platform.identity.authenticate(env.token);
  const versions: VersionSummary[] = [];

  // 1. Data.
  report.section(
    `Synthetic data: ${scale.baseImages} labeled base images, ${scale.shiftedImages} shifted ones without labels`,
  );
  const { datasetId, shifted } = await timed("data", async () => {
    const base = await generateImages(scale.baseImages, { seed: 1, shift: false, labeled: true });
    const shiftedImages = await generateImages(scale.shiftedImages, { seed: 4, shift: true, labeled: false });
    const created = await client.call<{ id: string }>("POST", "/api/v1/datasets", {
      name: datasetName,
      project,
      task: "classification",
      classes: [...DEFAULT_CLASSES],
    });
    await client.importImages(datasetName, base, (n) =>
      report.progress("import base (labeled)", n, base.length),
    );
    const added = await client.importImages(datasetName, shiftedImages, (n) =>
      report.progress("import shifted (unlabeled)", n, shiftedImages.length),
    );
    return {
      datasetId: created.id,
      shifted: added.map((item, i) => ({
        itemId: item.id,
        truth: shiftedImages[i].truth,
        split: item.split,
      })),
    };
  });

  // 2. v1.
  report.section("v1: a training job (PyTorch, from scratch) on a snapshot's train+val splits");
  const s0 = await client.snapshot(datasetName);
  report.line(`snapshot ${s0.slice(0, 12)} (content hash of the labeled items)`);
  const code = await bundledExampleCode(platform.artifacts).bundledExampleDigest();
  // The bundled example is shared code: every project may run it (as the pipeline's own code source does).
  await platform.blobs.claimForAll(code);
  const v1Job = await timed("v1 training", async () => {
    const job = await platform.jobs.submit(admin, {
      project,
      name: `train ${model} v1`,
      command: [
        "python",
        "train.py",
        "--snapshot",
        s0,
        "--epochs",
        String(scale.v1Epochs),
        "--keep-best",
        "--register",
        model,
      ],
      codeDigest: code,
      experiment: model,
      timeoutSeconds: 900,
    });
    report.line(`job ${job.id} submitted`);
    return waitForJob(platform, admin, job.id, report, deadline);
  });
  const [v1] = await platform.registry.searchVersions(admin, project, {
    modelName: model,
    runId: v1Job.runId as string,
  });
  if (!v1) throw new Error(`the v1 job finished without registering ${model}`);
  await platform.registry.setGate(admin, project, model, {
    metric: "accuracy",
    direction: "higher",
    min: 0.5,
    maxRegression: 0,
  });
  // The platform measures v1 itself on s0's holdout (a `platform` record, which the gate requires).
  const { record } = await platform.evaluation.evaluate(admin, project, model, v1.version, { snapshot: s0 });
  const v1Eval = { accuracy: record.metrics.accuracy, count: record.metrics.items };
  report.line(
    `v1 = ${model} version ${v1.version}: holdout accuracy ${v1Eval.accuracy.toFixed(4)} on ${v1Eval.count} items`,
  );
  await platform.registry.transition(admin, project, model, v1.version, "staging", { reason: "first model" });
  await platform.registry.transition(admin, project, model, v1.version, "production", {
    reason: `validated on holdout of ${s0.slice(0, 12)}`,
  });
  report.line(
    `gate: accuracy higher is better, min 0.5, no regression; validation ${record.passed ? "passed" : "failed"} -> production`,
  );
  await platform.serving.deployments.create(admin, { name: deployment, project, model });
  report.line(`deployment ${deployment} (production environment) serves v${v1.version}`);
  versions.push({
    version: v1.version,
    trainedFrom: null,
    snapshot: s0,
    holdoutAccuracy: v1Eval.accuracy,
    outcome: "production",
  });

  // 3. Policy.
  report.section(
    `Retrain policy: ${scale.minNewLabels} new labels -> fine-tune from production -> gate -> canary`,
  );
  const policyInput = {
    dataset: datasetName,
    minNewLabels: scale.minNewLabels,
    cooldownSeconds: scale.cooldownSeconds,
    settleSeconds: 2,
    command: ["python", "train.py", "--epochs", String(scale.retrainEpochs), "--keep-best"],
    autoDeploy: true,
    deployment,
    canaryPlan: scale.canaryPlan,
    timeoutSeconds: 900,
  };
  await platform.pipelines.policies.set(admin, project, model, policyInput);
  report.line(
    `mlops trigger set ${model} --dataset ${datasetName} --min-new-labels ${scale.minNewLabels} --cooldown ${scale.cooldownSeconds} --settle 2 --auto-deploy`,
  );

  // 4. Traffic and the first labels.
  const traffic = new TrafficGenerator({
    url: env.url,
    token: env.token,
    deployment,
    perSecond: scale.trafficPerSecond,
    seed: 9,
  });
  traffic.start();
  const labelStudio = new SimulatedLabelStudio(client, { datasetId, deployment });
  let first: PipelineRun;
  let second: PipelineRun;
  let trafficStats: TrafficStats;
  try {
    const [w1, w2, w3] = scale.waves;
    const wave1 = shifted.slice(0, w1);
    const wave2 = shifted.slice(w1, w1 + w2);
    const wave3 = shifted.slice(w1 + w2, w1 + w2 + w3);
    report.section(
      `Labelers correct v1 on shifted images (Label Studio ML backend /predict -> webhook), ${scale.trafficPerSecond} req/s live traffic`,
    );
    await timed("labeling wave 1", () =>
      labelStudio.labelAll(wave1, {
        onLabel: (n) => report.progress("labels (Label Studio webhooks)", n, wave1.length),
      }),
    );
    const v1Tally = labelStudio.stats.byVersion[`${model}:${v1.version}`] ?? { accepted: 0, corrected: 0 };
    report.line(
      `v1 pre-filled ${v1Tally.accepted + v1Tally.corrected} tasks: ${v1Tally.accepted} accepted, ${v1Tally.corrected} corrected`,
    );

    // 5. The pipeline fires and v2 goes through the canary while labelers keep working (label agreement).
    report.section("Threshold reached: the retrain pipeline runs");
    let wave2Done: Promise<void> | undefined;
    first = await timed("pipeline 1", async () => {
      const run = await waitForRun(platform, admin, model, project, 1, deadline);
      return followRun(platform, admin, run.id, report, deadline, (state) => {
        if (state === "analysis" && !wave2Done) {
          report.line(
            `labelers keep labeling ${wave2.length} shifted images while the canary runs (label agreement)`,
          );
          wave2Done = labelStudio.labelAll(wave2, { perSecond: 25, concurrency: 2 });
          // Awaited below; a failure before that point must not become an unhandled rejection.
          wave2Done.catch(() => {});
        }
      });
    });
    await (wave2Done ?? labelStudio.labelAll(wave2, { concurrency: 4 }));
    if (first.candidateVersion !== null) {
      versions.push({
        version: first.candidateVersion,
        trainedFrom: first.baseVersion,
        snapshot: first.snapshotId,
        holdoutAccuracy: first.evaluation?.candidate.accuracy ?? null,
        outcome: first.state,
        pipeline: first.id,
      });
    }

    // 6. A bad candidate: the same policy, but the training job corrupts most labels.
    report.section(
      `A bad candidate: the policy's job now shuffles ${Math.round(scale.shuffleLabels * 100)}% of the labels`,
    );
    await platform.pipelines.policies.set(admin, project, model, {
      ...policyInput,
      command: [...policyInput.command, "--shuffle-labels", String(scale.shuffleLabels)],
    });
    await timed("labeling wave 3", () =>
      labelStudio.labelAll(wave3, {
        onLabel: (n) => report.progress("labels (Label Studio webhooks)", n, wave3.length),
      }),
    );
    second = await timed("pipeline 2", async () => {
      const run = await waitForRun(platform, admin, model, project, 2, deadline);
      return followRun(platform, admin, run.id, report, deadline);
    });
    if (second.candidateVersion !== null) {
      versions.push({
        version: second.candidateVersion,
        trainedFrom: second.baseVersion,
        snapshot: second.snapshotId,
        holdoutAccuracy: second.evaluation?.candidate.accuracy ?? null,
        outcome: second.state,
        pipeline: second.id,
      });
    }
  } finally {
    // Whatever happened, the callers stop before the platform does.
    trafficStats = await traffic.stop();
  }

  const summary = await summarize({
    platform,
    admin,
    project,
    model,
    deployment,
    versions,
    pipelines: [first, second],
    labels: labelStudio.stats,
    traffic: trafficStats,
    timings,
    seconds: (Date.now() - started) / 1000,
    data: { baseImages: scale.baseImages, shiftedImages: scale.shiftedImages, firstSnapshot: s0 },
  });
  return summary;
}

async function waitForJob(
  platform: Platform,
  admin: Principal,
  jobId: string,
  report: LoopReporter,
  deadline: number,
): Promise<Job> {
  let last = "";
  for (;;) {
    const job = await platform.jobs.get(admin, jobId);
    if (job.state !== last) {
      report.line(`job ${job.state}${job.state === "failed" ? `: ${job.stateReason}` : ""}`);
      last = job.state;
    }
    if (job.state === "succeeded") return job;
    if (job.state === "failed" || job.state === "cancelled") {
      throw new Error(`job ${job.id} ${job.state}: ${job.stateReason} (mlops run logs ${job.id})`);
    }
    if (Date.now() > deadline) throw new Error(`job ${job.id} did not finish in time`);
    await sleep(500);
  }
}

async function waitForRun(
  platform: Platform,
  admin: Principal,
  model: string,
  project: string,
  seq: number,
  deadline: number,
): Promise<PipelineRun> {
  for (;;) {
    const runs = await platform.pipelines.runs.list(admin, { project, model });
    const run = runs.find((r) => r.triggerSeq === seq);
    if (run) return run;
    if (Date.now() > deadline) throw new Error(`the retrain trigger did not fire (#${seq}) in time`);
    await sleep(300);
  }
}

/** Prints each step as it ends (and what a step waits for), until the run ends. */
async function followRun(
  platform: Platform,
  admin: Principal,
  id: string,
  report: LoopReporter,
  deadline: number,
  onState?: (state: string) => void,
): Promise<PipelineRun> {
  let printed = 0;
  let note = "";
  let state = "";
  for (;;) {
    const { run, steps } = await platform.pipelines.runs.show(admin, id);
    if (printed === 0 && steps.length > 0) {
      report.line(
        `pipeline ${run.id.slice(0, 8)} fired: ${run.trigger.newLabels} new labels since ${run.trigger.basisSnapshot?.slice(0, 12) ?? "the start"}`,
      );
    }
    for (const step of steps.slice(printed)) {
      if (step.status === "running") break;
      const took = ((step.finishedAt ?? step.startedAt) - step.startedAt) / 1000;
      report.line(
        `${step.step.padEnd(8)} ${step.status.padEnd(9)} ${took.toFixed(1).padStart(5)}s  ${step.reason ?? ""}`,
      );
      printed++;
    }
    const current = steps[printed];
    const waiting = typeof current?.details.waiting === "string" ? current.details.waiting : "";
    if (current && waiting && waiting !== note) {
      report.line(`${current.step.padEnd(8)} ...       ${waiting}`);
      note = waiting;
    }
    if (run.state !== state) {
      state = run.state;
      onState?.(state);
    }
    if (isEndState(run.state)) {
      report.line(`pipeline ${run.id.slice(0, 8)}: ${run.state} (${run.stateReason})`);
      return run;
    }
    if (Date.now() > deadline) throw new Error(`pipeline ${id} did not finish in time (state ${run.state})`);
    await sleep(400);
  }
}
