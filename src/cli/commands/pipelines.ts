import type { Command } from "commander";
import { enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";

/**
 * The retraining loop on the command line: `mlops trigger set|show|pause|resume|list` (retrain policies)
 * and `mlops pipeline list|show|logs|cancel` (pipeline runs).
 */
interface Policy {
  modelName: string;
  datasetName: string;
  minNewLabels: number;
  cooldownSeconds: number;
  settleSeconds: number;
  canaryPlan?: Record<string, unknown> | null;
  job: {
    command: string[];
    gpus: number;
    cpu: number;
    memoryMiB: number;
    timeoutSeconds: number | null;
    codeDigest?: string;
  };
  autoDeploy: boolean;
  deployment: string | null;
  paused: boolean;
  triggerSeq: number;
  lastFiredAt: number | null;
}

interface TriggerStatus {
  newLabels: number;
  basisSnapshot: string | null;
  basisSource: string;
  fires: boolean;
  reason: string;
  activeRun: string | null;
  productionVersion: number | null;
}

interface Run {
  id: string;
  modelName: string;
  triggerSeq: number;
  state: string;
  stateReason: string;
  trigger: { newLabels: number; minNewLabels: number; basisSnapshot: string | null };
  baseVersion: number | null;
  candidateVersion: number | null;
  snapshotId: string | null;
  jobId: string | null;
  evaluation: {
    itemCount: number;
    candidate: { version: number; accuracy: number };
    production: { version: number; accuracy: number } | null;
  } | null;
  deployment: string | null;
  createdAt: number;
  finishedAt: number | null;
}

interface Step {
  step: string;
  status: string;
  startedAt: number;
  finishedAt: number | null;
  durationMs: number | null;
  reason: string | null;
  jobId: string | null;
  resumes: number;
}

interface TriggerSetOptions {
  project?: string;
  dataset: string;
  minNewLabels: string;
  cooldown?: string;
  settle?: string;
  command?: string;
  codeDigest?: string;
  gpus?: string;
  cpu?: string;
  memory?: string;
  timeout?: string;
  env: string[];
  autoDeploy?: boolean;
  deployment?: string;
  canaryInterval?: string;
  canaryStep?: string;
  canaryMax?: string;
  canaryMinRequests?: string;
  canaryMinAgreement?: string;
  canaryMinLabels?: string;
  canaryAgreementConfidence?: string;
  canaryMaxErrorRate?: string;
  canaryMaxP95Ratio?: string;
  canaryMinLatencySamples?: string;
  canaryFailureLimit?: string;
}

function num(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new CliError(`${name} must be a number, got '${value}'`, 2);
  return n;
}

/** Splits a command line as a POSIX shell would for plain words and quotes (no expansion). */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (const match of line.matchAll(pattern)) {
    words.push(match[1] !== undefined ? match[1].replace(/\\(.)/g, "$1") : (match[2] ?? match[3]));
  }
  if (words.length === 0) throw new CliError("--command is empty", 2);
  return words;
}

function parseEnv(pairs: string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  return Object.fromEntries(
    pairs.map((pair) => {
      const i = pair.indexOf("=");
      if (i <= 0) throw new CliError(`--env expects KEY=VALUE, got '${pair}'`, 2);
      return [pair.slice(0, i), pair.slice(i + 1)];
    }),
  );
}

function policyBody(o: TriggerSetOptions) {
  const plan = {
    intervalSeconds: num("--canary-interval", o.canaryInterval),
    stepWeight: num("--canary-step", o.canaryStep),
    maxWeight: num("--canary-max", o.canaryMax),
    minRequests: num("--canary-min-requests", o.canaryMinRequests),
    minAgreement: num("--canary-min-agreement", o.canaryMinAgreement),
    minLabels: num("--canary-min-labels", o.canaryMinLabels),
    agreementConfidence: num("--canary-agreement-confidence", o.canaryAgreementConfidence),
    maxErrorRate: num("--canary-max-error-rate", o.canaryMaxErrorRate),
    maxP95LatencyRatio: num("--canary-max-p95-ratio", o.canaryMaxP95Ratio),
    minLatencySamples: num("--canary-min-latency-samples", o.canaryMinLatencySamples),
    failureLimit: num("--canary-failure-limit", o.canaryFailureLimit),
  };
  const canaryPlan = Object.fromEntries(Object.entries(plan).filter(([, v]) => v !== undefined));
  return {
    dataset: o.dataset,
    minNewLabels: num("--min-new-labels", o.minNewLabels),
    cooldownSeconds: num("--cooldown", o.cooldown),
    settleSeconds: num("--settle", o.settle),
    command: o.command ? splitCommand(o.command) : undefined,
    codeDigest: o.codeDigest,
    gpus: num("--gpus", o.gpus),
    cpu: num("--cpu", o.cpu),
    memoryMiB: num("--memory", o.memory),
    timeoutSeconds: num("--timeout", o.timeout),
    env: parseEnv(o.env),
    autoDeploy: o.autoDeploy ?? false,
    deployment: o.deployment,
    canaryPlan: Object.keys(canaryPlan).length > 0 ? canaryPlan : undefined,
  };
}

function printPolicy(policy: Policy, trigger?: TriggerStatus): void {
  printKeyValues({
    model: policy.modelName,
    dataset: policy.datasetName,
    "min new labels": policy.minNewLabels,
    cooldown: `${policy.cooldownSeconds} s`,
    settle: `${policy.settleSeconds} s without label changes or open imports`,
    command: policy.job.command.join(" "),
    code: policy.job.codeDigest ?? "bundled vision-classifier example",
    resources: `${policy.job.cpu} cpu, ${policy.job.memoryMiB} MiB, ${policy.job.gpus} gpu`,
    "auto deploy": policy.autoDeploy
      ? `yes (canary on ${policy.deployment ?? policy.modelName})`
      : "no (stops in staging)",
    ...(policy.autoDeploy && policy.canaryPlan && Object.keys(policy.canaryPlan).length > 0
      ? { "canary plan": JSON.stringify(policy.canaryPlan) }
      : {}),
    paused: policy.paused,
    fired: `${policy.triggerSeq} time(s)${policy.lastFiredAt ? `, last ${formatTime(policy.lastFiredAt)}` : ""}`,
    ...(trigger
      ? {
          "new labels": `${trigger.newLabels} since ${trigger.basisSnapshot ? `${trigger.basisSnapshot.slice(0, 12)} (${trigger.basisSource})` : "the beginning"}`,
          trigger: `${trigger.fires ? "fires on the next check" : "waits"}: ${trigger.reason}`,
          production: trigger.productionVersion ?? "-",
        }
      : {}),
  });
}

const seconds = (ms: number | null) => (ms === null ? "-" : `${(ms / 1000).toFixed(1)}s`);

function accuracyLine(run: Run): string {
  if (!run.evaluation) return "-";
  const e = run.evaluation;
  const prod = e.production
    ? `, production v${e.production.version} ${e.production.accuracy.toFixed(4)}`
    : "";
  return `candidate v${e.candidate.version} ${e.candidate.accuracy.toFixed(4)}${prod} (${e.itemCount} holdout items)`;
}

export function registerPipelineCommands(program: Command, ctx: CliContext): void {
  const trigger = program.command("trigger").description("retrain policies: when new labels retrain a model");
  trigger
    .command("set <model>")
    .description("create or replace a model's retrain policy")
    .requiredOption("--dataset <dataset>", "dataset whose new labels count")
    .requiredOption("--min-new-labels <n>", "new or changed labels that fire a retrain")
    .option("--cooldown <seconds>", "minimum time between two retrains (default 300)")
    .option(
      "--settle <seconds>",
      "quiet period: fire only after no label changed for this long and no import is open (default 10)",
    )
    .option(
      "--command <command>",
      "training command (default: python train.py --epochs 8 --keep-best, the bundled example)",
    )
    .option(
      "--code-digest <sha256>",
      "code archive for --command (POST /api/v1/jobs/code); default the example",
    )
    .option("--gpus <n>", "GPUs for the training job")
    .option("--cpu <cores>", "CPU cores for the training job")
    .option("--memory <mib>", "memory (MiB) for the training job")
    .option("--timeout <seconds>", "training job timeout")
    .option(
      "--env <KEY=VALUE>",
      "environment for the training job (repeatable)",
      (v: string, all: string[]) => [...all, v],
      [],
    )
    .option("--auto-deploy", "canary the candidate on the model's deployment when it passes the gate")
    .option("--deployment <name>", "deployment to canary on (default: the model's name)")
    .option("--canary-interval <seconds>", "canary analysis interval")
    .option("--canary-step <percent>", "canary weight step")
    .option("--canary-max <percent>", "canary weight at which it is promoted")
    .option("--canary-min-requests <n>", "canary requests per analysis step")
    .option("--canary-min-agreement <fraction>", "lowest label agreement the canary may show")
    .option("--canary-min-labels <n>", "labels needed before agreement is judged (default 20)")
    .option(
      "--canary-agreement-confidence <p>",
      "how sure the labels must be that agreement is below the bar before it fails a step (default 0.9)",
    )
    .option("--canary-max-error-rate <fraction>", "highest canary error rate that passes (default 0.01)")
    .option(
      "--canary-max-p95-ratio <ratio>",
      "highest canary p95 latency as a multiple of the primary's (default 1.5)",
    )
    .option(
      "--canary-min-latency-samples <n>",
      "successful requests each version needs in a step before latency is judged (default 50)",
    )
    .option("--canary-failure-limit <n>", "failed analysis steps before a rollback (default 2)")
    .option("--project <project>", "project (default: default)")
    .action(async (model: string, _o: unknown, command: Command) => {
      const o = optionsOf<TriggerSetOptions>(command);
      const policy = await ctx
        .client()
        .put<Policy>(
          `/api/v1/retrain-policies/${enc(model)}${o.project ? `?project=${enc(o.project)}` : ""}`,
          policyBody(o),
        );
      emit(o, policy, () => printPolicy(policy));
    });
  trigger
    .command("show <model>")
    .description("a model's retrain policy and what its trigger sees now")
    .option("--project <project>", "project (default: default)")
    .action(async (model: string, _o: unknown, command: Command) => {
      const o = optionsOf<{ project?: string }>(command);
      const reply = await ctx
        .client()
        .get<{ policy: Policy; trigger: TriggerStatus }>(`/api/v1/retrain-policies/${enc(model)}`, {
          project: o.project,
        });
      emit(o, reply, () => printPolicy(reply.policy, reply.trigger));
    });
  for (const action of ["pause", "resume"] as const) {
    trigger
      .command(`${action} <model>`)
      .description(action === "pause" ? "stop the trigger from firing" : "let the trigger fire again")
      .option("--project <project>", "project (default: default)")
      .action(async (model: string, _o: unknown, command: Command) => {
        const o = optionsOf<{ project?: string }>(command);
        const path = `/api/v1/retrain-policies/${enc(model)}/${action}${o.project ? `?project=${enc(o.project)}` : ""}`;
        const policy = await ctx.client().post<Policy>(path);
        emit(o, policy, () =>
          process.stdout.write(
            `retrain policy of ${policy.modelName} ${action === "pause" ? "paused" : "resumed"}\n`,
          ),
        );
      });
  }
  trigger
    .command("list")
    .description("retrain policies")
    .option("--project <project>", "project")
    .action(async (_o: unknown, command: Command) => {
      const o = optionsOf<{ project?: string }>(command);
      const { policies } = await ctx
        .client()
        .get<{ policies: Policy[] }>("/api/v1/retrain-policies", { project: o.project });
      emit(o, policies, () =>
        printTable(
          policies.map((p) => ({
            model: p.modelName,
            dataset: p.datasetName,
            minNewLabels: p.minNewLabels,
            cooldown: p.cooldownSeconds,
            autoDeploy: p.autoDeploy,
            paused: p.paused,
            fired: p.triggerSeq,
          })),
        ),
      );
    });

  const pipeline = program.command("pipeline").description("retrain pipeline runs");
  pipeline
    .command("list")
    .description("pipeline runs, newest first")
    .option("--model <model>", "only this model's")
    .option("--state <states>", "comma-separated states")
    .option("--project <project>", "project")
    .option("--limit <n>", "at most this many", "50")
    .action(async (_o: unknown, command: Command) => {
      const o = optionsOf<{ model?: string; state?: string; project?: string; limit: string }>(command);
      const { pipelines } = await ctx.client().get<{ pipelines: Run[] }>("/api/v1/pipelines", {
        model: o.model,
        state: o.state,
        project: o.project,
        limit: o.limit,
      });
      emit(o, pipelines, () =>
        printTable(
          pipelines.map((r) => ({
            id: r.id,
            model: r.modelName,
            trigger: `#${r.triggerSeq} (${r.trigger.newLabels} labels)`,
            state: r.state,
            base: r.baseVersion ?? "-",
            candidate: r.candidateVersion ?? "-",
            started: formatTime(r.createdAt),
            took: seconds(r.finishedAt === null ? null : r.finishedAt - r.createdAt),
          })),
        ),
      );
    });
  pipeline
    .command("show <id>")
    .description("a pipeline run: each step's status, timing and reason")
    .action(async (id: string, _o: unknown, command: Command) => {
      const o = optionsOf<object>(command);
      const reply = await ctx.client().get<{ pipeline: Run; steps: Step[] }>(`/api/v1/pipelines/${enc(id)}`);
      emit(o, reply, () => {
        const r = reply.pipeline;
        printKeyValues({
          pipeline: r.id,
          model: r.modelName,
          state: `${r.state}: ${r.stateReason}`,
          trigger: `#${r.triggerSeq}: ${r.trigger.newLabels} new labels (threshold ${r.trigger.minNewLabels})`,
          "base version": r.baseVersion ?? "none (from scratch)",
          candidate: r.candidateVersion ?? "-",
          snapshot: r.snapshotId ?? "-",
          job: r.jobId ?? "-",
          "holdout accuracy": accuracyLine(r),
          deployment: r.deployment ?? "-",
        });
        process.stdout.write("\n");
        printTable(
          reply.steps.map((s) => ({
            step: s.step,
            status: s.status,
            started: formatTime(s.startedAt),
            took: seconds(s.durationMs),
            resumed: s.resumes > 0 ? `${s.resumes}x` : "",
            reason: s.reason ?? "",
          })),
        );
      });
    });
  pipeline
    .command("logs <id>")
    .description("the logs of a step's job (default: train)")
    .option("--step <step>", "step", "train")
    .action(async (id: string, _o: unknown, command: Command) => {
      const o = optionsOf<{ step: string }>(command);
      const response = await ctx.client().raw("GET", `/api/v1/pipelines/${enc(id)}/logs?step=${enc(o.step)}`);
      process.stdout.write(await response.text());
    });
  pipeline
    .command("cancel <id>")
    .description("stop a pipeline run where it is")
    .option("--reason <text>", "why")
    .action(async (id: string, _o: unknown, command: Command) => {
      const o = optionsOf<{ reason?: string }>(command);
      const run = await ctx.client().post<Run>(`/api/v1/pipelines/${enc(id)}/cancel`, { reason: o.reason });
      emit(o, run, () => process.stdout.write(`pipeline ${run.id} cancelled\n`));
    });
}
