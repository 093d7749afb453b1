import type { Principal } from "../../auth/principal.js";
import type { PipelineRun } from "../../pipelines/pipeline-run.js";
import type { Platform } from "../../platform.js";
import type { LabelingStats } from "./labeling-tool.js";
import type { TrafficStats } from "./traffic.js";
import { demoVerdict } from "./verdict.js";

export interface VersionSummary {
  version: number;
  /** The version it was fine-tuned from (null: from scratch). */
  trainedFrom: number | null;
  snapshot: string | null;
  /** On the holdout split of its own snapshot. */
  holdoutAccuracy: number | null;
  /** What became of it: production, or the pipeline's end state. */
  outcome: string;
  pipeline?: string;
  /** Its registry stage at the end of the demo. */
  stage?: string;
}

export interface LoopSummary {
  seconds: number;
  data: { baseImages: number; shiftedImages: number; firstSnapshot: string };
  versions: VersionSummary[];
  production: { version: number | null };
  pipelines: Array<{
    id: string;
    trigger: number;
    newLabels: number;
    state: string;
    reason: string;
    baseVersion: number | null;
    candidateVersion: number | null;
    holdout: { items: number; candidate: number; production: number | null } | null;
    steps: Array<{ step: string; status: string; seconds: number; reason: string | null; resumes: number }>;
    seconds: number | null;
  }>;
  canary: Array<{ action: string; reason: string; weight: number; canaryVersion: number | null; at: number }>;
  labels: LabelingStats;
  traffic: TrafficStats;
  timings: Record<string, number>;
}

export async function summarize(input: {
  platform: Platform;
  admin: Principal;
  project: string;
  model: string;
  deployment: string;
  versions: VersionSummary[];
  pipelines: PipelineRun[];
  labels: LabelingStats;
  traffic: TrafficStats;
  timings: Record<string, number>;
  seconds: number;
  data: LoopSummary["data"];
}): Promise<LoopSummary> {
  const { platform, admin } = input;
  const registered = await platform.registry.listVersions(admin, input.project, input.model);
  const stageOf = new Map(registered.map((v) => [v.version, v.stage]));
  const history = await platform.serving.deployments.history(admin, input.deployment);
  const pipelines = [];
  for (const run of input.pipelines) {
    const { steps } = await platform.pipelines.runs.show(admin, run.id);
    pipelines.push({
      id: run.id,
      trigger: run.triggerSeq,
      newLabels: run.trigger.newLabels,
      state: run.state,
      reason: run.stateReason,
      baseVersion: run.baseVersion,
      candidateVersion: run.candidateVersion,
      holdout: run.evaluation
        ? {
            items: run.evaluation.itemCount,
            candidate: run.evaluation.candidate.accuracy,
            production: run.evaluation.production?.accuracy ?? null,
          }
        : null,
      steps: steps.map((s) => ({
        step: s.step,
        status: s.status,
        seconds: ((s.finishedAt ?? s.startedAt) - s.startedAt) / 1000,
        reason: s.reason,
        resumes: s.resumes,
      })),
      seconds: run.finishedAt === null ? null : (run.finishedAt - run.createdAt) / 1000,
    });
  }
  return {
    seconds: input.seconds,
    data: input.data,
    versions: input.versions.map((v) => ({ ...v, stage: stageOf.get(v.version) })),
    production: { version: registered.find((v) => v.stage === "production")?.version ?? null },
    pipelines,
    canary: history
      .filter((e) => !["create", "configure_label_studio"].includes(e.action))
      .map((e) => ({
        action: e.action,
        reason: e.reason,
        weight: e.canaryWeight,
        canaryVersion: e.canaryVersion,
        at: e.at,
      })),
    labels: input.labels,
    traffic: input.traffic,
    timings: input.timings,
  };
}

/** The summary as people read it. */
export function printSummary(s: LoopSummary, out: { write(text: string): unknown } = process.stdout): void {
  const w = (line = "") => out.write(`${line}\n`);
  const pct = (x: number | null | undefined) =>
    x === null || x === undefined ? "-" : `${(x * 100).toFixed(1)}%`;
  w();
  w(`== Summary (${s.seconds.toFixed(0)} s)`);
  w(
    "versions (each on its own training snapshot's holdout; the pipelines compare candidate and production on the same one):",
  );
  for (const v of s.versions) {
    const from = v.trainedFrom === null ? "from scratch" : `fine-tuned from v${v.trainedFrom}`;
    w(
      `  v${v.version}  ${from.padEnd(20)} ${pct(v.holdoutAccuracy).padStart(6)} on the holdout of snapshot ${v.snapshot?.slice(0, 8) ?? "-"}  ${v.outcome.padEnd(11)} stage ${v.stage ?? "-"}`,
    );
  }
  w(`production: v${s.production.version ?? "-"}`);
  w("pipelines:");
  for (const p of s.pipelines) {
    const h = p.holdout
      ? `holdout: candidate ${pct(p.holdout.candidate)} vs production ${pct(p.holdout.production)} on ${p.holdout.items} items`
      : "";
    w(`  #${p.trigger} ${p.id.slice(0, 8)}  ${p.state.padEnd(11)} ${p.seconds?.toFixed(0) ?? "-"} s  ${h}`);
    w(`     ${p.reason}`);
    w(`     ${p.steps.map((st) => `${st.step} ${st.seconds.toFixed(1)}s`).join(" -> ")}`);
  }
  w("canary decisions:");
  for (const c of s.canary)
    w(`  ${c.action.padEnd(18)} v${c.canaryVersion ?? "-"} at ${String(c.weight).padStart(3)}%  ${c.reason}`);
  w(
    `labels: ${s.labels.labeled} through Label Studio webhooks (${s.labels.accepted} accepted, ${s.labels.corrected} corrected)`,
  );
  for (const [version, t] of Object.entries(s.labels.byVersion)) {
    w(
      `  ${version}: agreement ${pct(t.accepted / Math.max(1, t.accepted + t.corrected))} of ${t.accepted + t.corrected}`,
    );
  }
  w(
    `traffic: ${s.traffic.sent} requests, ${s.traffic.failed} failed, by version ${JSON.stringify(s.traffic.byVersion)}`,
  );
  w(
    `timings (s): ${Object.entries(s.timings)
      .map(([k, v]) => `${k} ${v.toFixed(1)}`)
      .join(", ")}`,
  );
  w("outcome:");
  for (const line of demoVerdict(s).lines) w(`  ${line}`);
}
