import type { Command } from "commander";
import { enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";
import { describeRecord, evaluateVersion, failedExit, type Validation } from "./models-evaluate.js";

type Model = {
  name: string;
  description: string;
  gate: unknown;
  tags: Record<string, string>;
  aliases: Record<string, number>;
  updatedAt: number;
  createdBy: string;
};
type Version = {
  version: number;
  stage: string;
  source: string;
  runId: string | null;
  createdAt: number;
  createdBy: string;
  aliases: string[];
};
type Transition = {
  version: number;
  fromStage: string;
  toStage: string;
  actor: string;
  at: number;
  reason: string;
  evidence: string | null;
};
type TransitionResult = { version: Version; transition: Transition; archived: Transition[] };

const DEFAULT_PROJECT = "default";

/** `mlops model ...`: the registry from the command line. */
export function registerModelCommands(program: Command, ctx: CliContext): void {
  const model = program
    .command("model")
    .description("registered models, versions, stages, gates and validations");
  const base = (name: string, _opts: { project?: string }) => `/api/v1/models/${enc(name)}`;
  const q = (opts: { project?: string }) => `?project=${enc(opts.project ?? DEFAULT_PROJECT)}`;
  const withProject = (cmd: Command) => cmd.option("-p, --project <project>", "project", DEFAULT_PROJECT);

  withProject(model.command("list").description("registered models of a project")).action(
    async (_o, cmd: Command) => {
      const opts = optionsOf<{ project: string }>(cmd);
      const { models } = await ctx.client().get<{ models: Model[] }>(`/api/v1/models${q(opts)}`);
      emit(opts, models, () =>
        printTable(
          models.map((m) => ({
            name: m.name,
            aliases:
              Object.entries(m.aliases)
                .map(([a, v]) => `${a}->${v}`)
                .join(",") || "-",
            updated: formatTime(m.updatedAt),
            description: m.description,
          })),
        ),
      );
    },
  );

  withProject(model.command("show <name>").description("a model with its gate and versions")).action(
    async (name: string, _o, cmd: Command) => {
      const opts = optionsOf<{ project: string }>(cmd);
      const client = ctx.client();
      const m = await client.get<Model>(`${base(name, opts)}${q(opts)}`);
      const { versions } = await client.get<{ versions: Version[] }>(
        `${base(name, opts)}/versions${q(opts)}`,
      );
      emit(opts, { ...m, versions }, () => {
        printKeyValues({
          name: m.name,
          description: m.description,
          gate: m.gate,
          tags: m.tags,
          aliases: m.aliases,
          createdBy: m.createdBy,
        });
        process.stdout.write("\n");
        printVersions(versions);
      });
    },
  );

  withProject(model.command("versions <name>").description("versions, newest first")).action(
    async (name: string, _o, cmd: Command) => {
      const opts = optionsOf<{ project: string }>(cmd);
      const { versions } = await ctx
        .client()
        .get<{ versions: Version[] }>(`${base(name, opts)}/versions${q(opts)}`);
      emit(opts, versions, () => printVersions(versions));
    },
  );

  withProject(
    model
      .command("register <name>")
      .description(
        "register an existing ONNX file in one step (a run is created for it; model.json is written)",
      )
      .requiredOption("--onnx <file>", "the ONNX model")
      .requiredOption("--labels <a,b,c>", "class names, in output order")
      .option(
        "--input-size <CxHxW>",
        "input shape without batch, e.g. 3x224x224 (default: from the ONNX file)",
      )
      .option("--task <task>", "classification | detection", "classification")
      .option("--mean <m1,m2,m3>", "per-channel mean after scaling to 0..1 (default 0)")
      .option("--std <s1,s2,s3>", "per-channel std (default 1)")
      .option("--description <text>", "version description"),
  ).action(async (name: string, _o, cmd: Command) => {
    const opts = optionsOf<{
      project: string;
      onnx: string;
      labels: string;
      inputSize?: string;
      task?: string;
      mean?: string;
      std?: string;
      description?: string;
    }>(cmd);
    const { registerOnnx } = await import("./models-register.js");
    const result = await registerOnnx(ctx.client(), name, opts);
    emit(opts, { name, ...result }, () =>
      process.stdout.write(
        `registered ${name} version ${result.version}${result.runId ? ` (run ${result.runId})` : ""}\n`,
      ),
    );
  });

  const transition = async (cmd: Command, name: string, version: string, path: string, body: object) => {
    const opts = optionsOf<{ project: string }>(cmd);
    const result = await ctx
      .client()
      .post<TransitionResult>(`${base(name, opts)}/versions/${enc(version)}/${path}${q(opts)}`, body);
    emit(opts, result, () => {
      process.stdout.write(
        `${name} version ${result.version.version}: ${result.transition.fromStage} -> ${result.transition.toStage}\n`,
      );
      if (result.transition.evidence)
        process.stdout.write(`evidence: validation record ${result.transition.evidence}\n`);
      for (const a of result.archived) process.stdout.write(`archived version ${a.version}\n`);
    });
  };

  withProject(
    model
      .command("transition <name> <version> <stage>")
      .description("move a version: experiment | staging | production | archived (MLflow names work too)")
      .requiredOption("--reason <text>", "why (kept in the history)")
      .option("--archive-existing", "archive the other versions in the target stage"),
  ).action(async (name: string, version: string, stage: string, _o, cmd: Command) => {
    const opts = optionsOf<{ reason: string; archiveExisting?: boolean }>(cmd);
    await transition(cmd, name, version, "transition", {
      stage,
      reason: opts.reason,
      archiveExisting: opts.archiveExisting,
    });
  });

  withProject(
    model
      .command("promote <name> <version>")
      .description("move a version to production (needs a passing validation; archives the previous one)")
      .option("--reason <text>", 'why (kept in the history; default "promoted by <user> via the CLI")'),
  ).action(async (name: string, version: string, _o, cmd: Command) => {
    const given = optionsOf<{ reason?: string }>(cmd).reason;
    const reason = given ?? (await defaultPromoteReason(ctx));
    await transition(cmd, name, version, "promote", { reason });
  });

  withProject(
    model
      .command("alias <name> <alias> [version]")
      .description("point an alias at a version (or --delete it)")
      .option("--delete", "remove the alias"),
  ).action(async (name: string, alias: string, version: string | undefined, _o, cmd: Command) => {
    const opts = optionsOf<{ project: string; delete?: boolean }>(cmd);
    const path = `${base(name, opts)}/aliases/${enc(alias)}${q(opts)}`;
    if (opts.delete) {
      await ctx.client().delete(path);
      emit(opts, { name, alias, deleted: true }, () => process.stdout.write(`removed alias ${alias}\n`));
      return;
    }
    if (!version) throw new CliError("give the VERSION the alias points at (or --delete)", 2);
    const v = await ctx.client().put<Version>(path, { version: Number(version) });
    emit(opts, v, () => process.stdout.write(`${name}@${alias} -> version ${v.version}\n`));
  });

  withProject(
    model
      .command("history <name>")
      .description("stage transitions: who, when, why, evidence")
      .option("--version <v>", "only this version"),
  ).action(async (name: string, _o, cmd: Command) => {
    const opts = optionsOf<{ project: string; version?: string }>(cmd);
    const { transitions } = await ctx
      .client()
      .get<{ transitions: Transition[] }>(`${base(name, opts)}/history`, {
        project: opts.project,
        version: opts.version,
      });
    emit(opts, transitions, () =>
      printTable(
        transitions.map((t) => ({
          at: formatTime(t.at),
          version: t.version,
          from: t.fromStage,
          to: t.toStage,
          actor: t.actor,
          reason: t.reason,
          evidence: t.evidence,
        })),
      ),
    );
  });

  withProject(
    model
      .command("gate <name>")
      .description(
        "show or set the validation gate (e.g. --metric accuracy --higher --min 0.9 --max-regression 0.01)",
      )
      .option("--metric <key>", "metric the gate checks")
      .option("--higher", "higher is better")
      .option("--lower", "lower is better")
      .option("--min <x>", "minimum value", Number)
      .option("--max <x>", "maximum value", Number)
      .option("--max-regression <x>", "how much worse than production it may be", Number)
      .option(
        "--require <which>",
        "platform: only platform-measured records count (default); any: hand-reported ones too",
      ),
  ).action(async (name: string, _o, cmd: Command) => {
    const opts = optionsOf<{
      project: string;
      metric?: string;
      higher?: boolean;
      lower?: boolean;
      min?: number;
      max?: number;
      maxRegression?: number;
      require?: string;
    }>(cmd);
    const client = ctx.client();
    if (!opts.metric) {
      const m = await client.get<Model>(`${base(name, opts)}${q(opts)}`);
      emit(opts, m.gate, () =>
        m.gate ? printKeyValues(m.gate as Record<string, unknown>) : process.stdout.write("(no gate)\n"),
      );
      return;
    }
    if (Boolean(opts.higher) === Boolean(opts.lower))
      throw new CliError("give exactly one of --higher or --lower", 2);
    const gate = {
      metric: opts.metric,
      direction: opts.higher ? "higher" : "lower",
      min: opts.min,
      max: opts.max,
      maxRegression: opts.maxRegression,
      require: opts.require,
    };
    const m = await client.put<Model>(`${base(name, opts)}/gate${q(opts)}`, gate);
    emit(opts, m.gate, () => printKeyValues(m.gate as Record<string, unknown>));
  });

  withProject(
    model
      .command("evaluate <name> <version>")
      .description(
        "the platform measures the version on a snapshot's split and records it (provenance platform); exits 5 if the gate fails",
      )
      .requiredOption("--snapshot <id>", "dataset snapshot of the model's project (id or unique prefix)")
      .option("--split <split>", "holdout, val or train", "holdout"),
  ).action(async (name: string, version: string, _o, cmd: Command) => {
    const opts = optionsOf<{ project: string; snapshot: string; split: string; json?: boolean }>(cmd);
    const outcome = await evaluateVersion(ctx.client(), name, version, opts, (text) =>
      process.stderr.write(`${text}\n`),
    );
    emit(opts, outcome, () => {
      if (outcome.production) {
        process.stdout.write("production measured on the same items for the comparison:\n");
        describeRecord(outcome.production, (t) => process.stdout.write(`  ${t}`));
      }
      describeRecord(outcome.record, (t) => process.stdout.write(t));
    });
    if (!outcome.record.passed) throw failedExit(outcome.record);
  });

  withProject(
    model
      .command("validate <name> <version>")
      .description(
        "administrators: record metrics measured elsewhere (provenance reported; platform gates do not count it); exits 5 if FAILED",
      )
      .requiredOption("--snapshot <id>", "existing dataset snapshot the metrics were measured on")
      .requiredOption("--metric <key=value...>", "metrics, e.g. --metric accuracy=0.93")
      .option("--run-id <id>", "the evaluation run"),
  ).action(async (name: string, version: string, _o, cmd: Command) => {
    const opts = optionsOf<{ project: string; snapshot: string; metric: string[]; runId?: string }>(cmd);
    const metrics: Record<string, number> = {};
    for (const entry of opts.metric) {
      const [key, value] = entry.split("=");
      if (!key || value === undefined || !Number.isFinite(Number(value)))
        throw new CliError(`--metric '${entry}': expected key=number`, 2);
      metrics[key] = Number(value);
    }
    const record = await ctx
      .client()
      .post<Validation>(`${base(name, opts)}/versions/${enc(version)}/validations${q(opts)}`, {
        snapshot: opts.snapshot,
        metrics,
        runId: opts.runId,
      });
    emit(opts, record, () => describeRecord(record, (t) => process.stdout.write(t)));
    if (!record.passed) throw failedExit(record);
  });
}

function printVersions(versions: Version[]): void {
  printTable(
    versions.map((v) => ({
      version: v.version,
      stage: v.stage,
      aliases: v.aliases.join(",") || "-",
      source: v.source,
      created: formatTime(v.createdAt),
      by: v.createdBy,
    })),
  );
}

/** README shows `mlops model promote NAME VERSION`: the history still says who promoted it, and how. */
async function defaultPromoteReason(ctx: CliContext): Promise<string> {
  const me = await ctx.client().get<{ user: { name: string } }>("/api/v1/whoami");
  return `promoted by ${me.user.name} via the CLI`;
}
