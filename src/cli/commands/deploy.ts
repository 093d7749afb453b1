import { readFile } from "node:fs/promises";
import path from "node:path";
import type { Command } from "commander";
import type { Deployment, DeploymentHistoryEntry } from "../../serving/deployments/deployment.js";
import type { DeploymentStatus } from "../../serving/deployments/deployment-status.js";
import { enc, withQuery } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";

const deploymentPath = (name: string, suffix = "") => `/api/v1/deployments/${enc(name)}${suffix}`;

function number(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n)) throw new CliError(`${flag} needs a number (got ${value})`, 2);
    return n;
  };
}

function summary(d: Deployment): Record<string, unknown> {
  return {
    name: d.name,
    model: d.modelName,
    environment: d.environment,
    state: d.state,
    primary: `v${d.primaryVersion} (${100 - d.canaryWeight}%)`,
    canary: d.canaryVersion === null ? null : `v${d.canaryVersion} (${d.canaryWeight}%)`,
    auto: d.plan?.auto ?? null,
  };
}

/** `mlops deploy ...` (deployments, canaries) and `mlops predict` (images through a deployment). */
export function registerDeployCommands(program: Command, ctx: CliContext): void {
  const deploy = program
    .command("deploy")
    .description("deployments: serve a model, canary, promote, roll back");

  deploy
    .command("create <name>")
    .description("serve a model (production: its production version; --environment dev: any version)")
    .requiredOption("--model <model>", "registered model")
    .option("--version <n>", "model version (default: the production version)", number("--version"))
    .option("--environment <env>", "production | dev", "production")
    .option("--project <project>", "project (default: default)")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<{ model: string; version?: number; environment: string; project?: string }>(
        command,
      );
      const d = await ctx.client().post<Deployment>("/api/v1/deployments", {
        name,
        model: o.model,
        version: o.version,
        environment: o.environment,
        project: o.project,
      });
      emit(o, d, () =>
        process.stdout.write(
          `deployment ${d.name} serves ${d.modelName} version ${d.primaryVersion} (${d.environment})\n`,
        ),
      );
    });

  deploy
    .command("list")
    .description("list deployments")
    .option("--project <project>", "only this project")
    .action(async (_o, command: Command) => {
      const o = optionsOf<{ project?: string }>(command);
      const { deployments } = await ctx
        .client()
        .get<{ deployments: Deployment[] }>("/api/v1/deployments", { project: o.project });
      emit(o, { deployments }, () => printTable(deployments.map(summary)));
    });

  deploy
    .command("status <name>")
    .description("versions, weights and per-version requests, errors, latency and label agreement")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf(command);
      const status = await ctx.client().get<DeploymentStatus>(deploymentPath(name, "/status"));
      emit(o, status, () => {
        const d = status.deployment;
        printKeyValues({
          ...summary(d),
          failures: d.plan ? `${d.failures}/${d.plan.failureLimit}` : null,
          "next analysis": d.plan?.auto && status.nextAnalysisAt ? formatTime(status.nextAnalysisAt) : null,
          "figures since": formatTime(status.since),
        });
        process.stdout.write("\n");
        printTable(
          status.versions.map((v) => ({
            role: v.role,
            version: v.modelVersion,
            weight: `${v.weight}%`,
            requests: v.stats.requests,
            errors: v.stats.errors,
            "error rate": `${(v.stats.errorRate * 100).toFixed(2)}%`,
            "p50 ms": v.stats.p50Ms?.toFixed(2) ?? null,
            "p95 ms": v.stats.p95Ms?.toFixed(2) ?? null,
            "mean score": v.stats.meanScore?.toFixed(3) ?? null,
            agreement:
              v.agreement?.rate === null || !v.agreement
                ? null
                : `${(v.agreement.rate * 100).toFixed(1)}% of ${v.agreement.total}`,
            loaded: v.loadError ? `no: ${v.loadError}` : v.loaded,
          })),
        );
      });
    });

  deploy
    .command("canary <name>")
    .description(
      "send part of the traffic to another version (production: staging with a passing validation)",
    )
    .requiredOption("--version <n>", "canary model version", number("--version"))
    .option("--percent <p>", "first weight in percent (default: one step)", number("--percent"))
    .option("--step-weight <p>", "percent added after each passing analysis", number("--step-weight"))
    .option("--max-weight <p>", "weight at which a passing analysis promotes", number("--max-weight"))
    .option("--interval <seconds>", "seconds between analyses", number("--interval"))
    .option("--min-requests <n>", "canary requests an analysis needs", number("--min-requests"))
    .option("--max-error-rate <fraction>", "highest canary error rate, e.g. 0.01", number("--max-error-rate"))
    .option("--max-latency-ratio <x>", "highest canary p95 / primary p95", number("--max-latency-ratio"))
    .option(
      "--min-agreement <fraction>",
      "lowest share of predictions labelers accept",
      number("--min-agreement"),
    )
    .option("--min-labels <n>", "labels needed before agreement counts", number("--min-labels"))
    .option(
      "--agreement-confidence <p>",
      "how sure the labels must be that agreement is below the bar before it fails (default 0.9)",
      number("--agreement-confidence"),
    )
    .option(
      "--min-latency-samples <n>",
      "successful requests per version before p95 is compared",
      number("--min-latency-samples"),
    )
    .option("--failure-limit <n>", "failed analyses before a rollback", number("--failure-limit"))
    .option("--auto", "let the analysis loop step, promote and roll back")
    .option("--reason <text>", "why (recorded)")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<{
        version: number;
        percent?: number;
        stepWeight?: number;
        maxWeight?: number;
        interval?: number;
        minRequests?: number;
        maxErrorRate?: number;
        maxLatencyRatio?: number;
        minAgreement?: number;
        minLabels?: number;
        agreementConfidence?: number;
        minLatencySamples?: number;
        failureLimit?: number;
        auto?: boolean;
        reason?: string;
      }>(command);
      const d = await ctx.client().post<Deployment>(deploymentPath(name, "/canary"), {
        version: o.version,
        percent: o.percent,
        reason: o.reason,
        plan: {
          stepWeight: o.stepWeight,
          maxWeight: o.maxWeight,
          intervalSeconds: o.interval,
          minRequests: o.minRequests,
          maxErrorRate: o.maxErrorRate,
          maxP95LatencyRatio: o.maxLatencyRatio,
          minAgreement: o.minAgreement,
          minLabels: o.minLabels,
          agreementConfidence: o.agreementConfidence,
          minLatencySamples: o.minLatencySamples,
          failureLimit: o.failureLimit,
          auto: o.auto ?? false,
        },
      });
      emit(o, d, () =>
        process.stdout.write(
          `canary: ${d.modelName} version ${d.canaryVersion} takes ${d.canaryWeight}% of ${d.name}` +
            `${d.plan?.auto ? ` (analysis every ${d.plan.intervalSeconds}s, +${d.plan.stepWeight}% up to ${d.plan.maxWeight}%)` : ""}\n`,
        ),
      );
    });

  for (const [verb, description] of [
    ["promote", "make the canary the primary now (production: it becomes the production version)"],
    ["rollback", "send all traffic back to the primary now; the canary is marked failed"],
  ] as const) {
    deploy
      .command(`${verb} <name>`)
      .description(description)
      .option("--reason <text>", "why (recorded)")
      .action(async (name: string, _o, command: Command) => {
        const o = optionsOf<{ reason?: string }>(command);
        const d = await ctx.client().post<Deployment>(deploymentPath(name, `/${verb}`), { reason: o.reason });
        emit(o, d, () =>
          process.stdout.write(`${d.name}: ${d.state}, primary version ${d.primaryVersion}\n`),
        );
      });
  }

  deploy
    .command("history <name>")
    .description("every change of a deployment, with the analysis figures")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf(command);
      const { history } = await ctx
        .client()
        .get<{ history: DeploymentHistoryEntry[] }>(deploymentPath(name, "/history"));
      emit(o, { history }, () =>
        printTable(
          history.map((h) => ({
            at: formatTime(h.at),
            action: h.action,
            state: `${h.fromState ?? "-"} -> ${h.toState}`,
            primary: h.primaryVersion,
            canary: h.canaryVersion === null ? null : `v${h.canaryVersion} ${h.canaryWeight}%`,
            actor: h.actor,
            reason: h.reason,
          })),
        ),
      );
    });

  deploy
    .command("delete <name>")
    .description("delete a deployment")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf(command);
      await ctx.client().delete(deploymentPath(name));
      emit(o, { deleted: name }, () => process.stdout.write(`deleted deployment ${name}\n`));
    });

  program
    .command("predict <deployment> <images...>")
    .description("predict on image files through a deployment")
    .option("--top-k <k>", "labels per image (classification)", number("--top-k"))
    .option("--version <n>", "ask one version of the deployment", number("--version"))
    .option("--routing-key <key>", "X-Routing-Key: the same key always gets the same version")
    .action(async (name: string, files: string[], _o, command: Command) => {
      const o = optionsOf<{ topK?: number; version?: number; routingKey?: string }>(command);
      const form = new FormData();
      for (const file of files) {
        const bytes = await readFile(file).catch((err: Error) => {
          throw new CliError(`cannot read ${file}: ${err.message}`, 2);
        });
        form.append("image", new Blob([bytes]), path.basename(file));
      }
      const response = await ctx
        .client()
        .raw("POST", withQuery(deploymentPath(name, "/predict"), { topK: o.topK, version: o.version }), {
          body: form,
          headers: o.routingKey ? { "x-routing-key": o.routingKey } : {},
        });
      const answer = (await response.json()) as {
        model: string;
        modelVersion: number;
        canary: boolean;
        predictions: Array<{
          predictionId: string;
          task: string;
          labels?: Array<{ label: string; score: number }>;
          boxes?: Array<{ label: string; score: number; x1: number; y1: number; x2: number; y2: number }>;
        }>;
      };
      emit(o, answer, () => {
        process.stdout.write(
          `${answer.model} version ${answer.modelVersion}${answer.canary ? " (canary)" : ""}\n`,
        );
        answer.predictions.forEach((p, i) => {
          const what =
            p.task === "classification"
              ? (p.labels ?? []).map((l) => `${l.label} ${l.score.toFixed(3)}`).join(", ")
              : (p.boxes ?? [])
                  .map(
                    (b) =>
                      `${b.label} ${b.score.toFixed(2)} [${[b.x1, b.y1, b.x2, b.y2].map((x) => x.toFixed(3)).join(",")}]`,
                  )
                  .join("; ") || "no boxes";
          process.stdout.write(`${files[i]}: ${what}  (prediction ${p.predictionId})\n`);
        });
      });
    });
}
