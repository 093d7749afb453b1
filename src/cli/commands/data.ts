import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { Readable } from "node:stream";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import type { Command } from "commander";
import { exportSnapshot } from "../../data/export.js";
import type { ImportSource } from "../../data/imports/import-source.js";
import { type ImportApi, runImport } from "../../data/imports/uploader.js";
import type { LabelPushInput } from "../../data/label-push.js";
import { parseManifest } from "../../data/manifest.js";
import type { Dataset, DatasetTask, Snapshot } from "../../data/model.js";
import { parseSplitFractions } from "../../data/splits.js";
import { type ApiClient, enc, withQuery } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";

interface ProjectOpt {
  project?: string;
}

const datasetPath = (name: string, suffix = "", project?: string) =>
  withQuery(`/api/v1/datasets/${enc(name)}${suffix}`, { project });

export function registerDataCommands(program: Command, ctx: CliContext): void {
  const data = program.command("data").description("datasets, imports, labels and snapshots");

  data
    .command("create <name>")
    .description("create a dataset")
    .requiredOption("--task <task>", "classification | detection")
    .option("--classes <list>", "comma-separated class names (more can be added by imports)")
    .option("--project <project>", "project (default: default)")
    .option("--split <fractions>", "train,val,holdout fractions", "0.8,0.1,0.1")
    .option("--description <text>", "description")
    .option("--webhook-secret <secret>", "shared secret Label Studio webhooks must send")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<
        ProjectOpt & {
          task: string;
          classes?: string;
          split: string;
          description?: string;
          webhookSecret?: string;
        }
      >(command);
      const dataset = await ctx.client().post<Dataset>("/api/v1/datasets", {
        name,
        project: o.project,
        task: o.task,
        classes: o.classes
          ? o.classes
              .split(",")
              .map((c) => c.trim())
              .filter(Boolean)
          : undefined,
        splitFractions: parseSplitFractions(o.split),
        description: o.description,
        webhookSecret: o.webhookSecret,
      });
      emit(o, dataset, () =>
        process.stdout.write(`created dataset ${dataset.name} (${dataset.id}), task ${dataset.task}\n`),
      );
    });

  data
    .command("list")
    .description("list datasets")
    .option("--project <project>", "only this project")
    .action(async (_o, command: Command) => {
      const o = optionsOf<ProjectOpt>(command);
      const { datasets } = await ctx
        .client()
        .get<{ datasets: Dataset[] }>("/api/v1/datasets", { project: o.project });
      emit(o, { datasets }, () =>
        printTable(
          datasets.map((d) => ({
            name: d.name,
            task: d.task,
            classes: d.classes.length,
            id: d.id,
            created: formatTime(d.createdAt),
          })),
        ),
      );
    });

  data
    .command("show <dataset>")
    .description("a dataset: counts per split, labels, snapshots")
    .option("--project <project>", "project (default: default)")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<ProjectOpt>(command);
      const client = ctx.client();
      const dataset = await client.get<
        Dataset & {
          stats: { items: number; labeled: number; revisions: number; bySplit: Record<string, number> };
        }
      >(datasetPath(name, "", o.project));
      const { snapshots } = await client.get<{ snapshots: Snapshot[] }>(
        datasetPath(name, "/snapshots", o.project),
      );
      emit(o, { ...dataset, snapshots }, () => {
        const s = dataset.stats;
        printKeyValues({
          name: dataset.name,
          id: dataset.id,
          task: dataset.task,
          classes: dataset.classes.join(", "),
          items: `${s.items} (train ${s.bySplit.train}, val ${s.bySplit.val}, holdout ${s.bySplit.holdout})`,
          labeled: s.labeled,
          "label revisions": s.revisions,
          "webhook secret": dataset.hasWebhookSecret ? "set" : "none",
        });
        process.stdout.write("\nsnapshots:\n");
        printTable(
          snapshots.map((x) => ({
            id: x.id.slice(0, 16),
            items: x.itemCount,
            train: x.splitCounts.train,
            val: x.splitCounts.val,
            holdout: x.splitCounts.holdout,
            created: formatTime(x.createdAt),
          })),
        );
      });
    });

  data
    .command("import <dataset>")
    .description("import images and labels (re-running is safe: nothing is stored twice)")
    .option("--image-folder <dir>", "ImageFolder directory (<class>/<image>)")
    .option("--label-studio <file>", "Label Studio JSON export (with --images)")
    .option("--coco <file>", "COCO JSON (with --images)")
    .option("--images <dir>", "directory holding the images of --label-studio / --coco")
    .option("--project <project>", "project (default: default)")
    .option("--batch-size <n>", "items per request", (v) => Number.parseInt(v, 10), 100)
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<
        ProjectOpt & {
          imageFolder?: string;
          labelStudio?: string;
          coco?: string;
          images?: string;
          batchSize: number;
        }
      >(command);
      const client = ctx.client();
      const dataset = await client.get<Dataset>(datasetPath(name, "", o.project));
      const source = await readSource(ctx, o, dataset.task);
      const cliProgress =
        !o.json && process.stderr.isTTY ? (await import("cli-progress")).default : undefined;
      const bar = cliProgress
        ? new cliProgress.SingleBar(
            {
              stream: process.stderr,
              format: "importing [{bar}] {value}/{total} images | {uploaded} uploaded | eta {eta}s",
            },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      bar?.start(source.records.length, 0, { uploaded: 0 });
      const summary = await runImport(source, importApi(client, dataset), {
        batchSize: o.batchSize,
        onProgress: (p) => bar?.update(p.done, { uploaded: p.uploaded }),
      }).finally(() => bar?.stop());
      emit(o, summary, () => {
        process.stdout.write(
          `imported ${summary.items} images into ${dataset.name}: ${summary.created} new items, ${summary.uploaded} uploaded, ${summary.labelsStored} labels stored\n`,
        );
        for (const s of summary.skipped.slice(0, 20))
          process.stdout.write(`  skipped ${s.entry}: ${s.reason}\n`);
        if (summary.skipped.length > 20)
          process.stdout.write(`  ... and ${summary.skipped.length - 20} more skipped\n`);
      });
    });

  data
    .command("snapshot <dataset>")
    .description("snapshot the current labels (same content, same id)")
    .option("--project <project>", "project (default: default)")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<ProjectOpt>(command);
      const s = await ctx
        .client()
        .post<Snapshot & { created: boolean }>(datasetPath(name, "/snapshots", o.project));
      emit(o, s, () =>
        process.stdout.write(
          `${s.created ? "created" : "unchanged, existing"} snapshot ${s.id}\n  ${s.itemCount} items: train ${s.splitCounts.train}, val ${s.splitCounts.val}, holdout ${s.splitCounts.holdout}\n`,
        ),
      );
    });

  data
    .command("diff <from> <to>")
    .description("items added, removed and relabeled between two snapshots")
    .action(async (from: string, to: string, _o, command: Command) => {
      const o = optionsOf<object>(command);
      const d = await ctx.client().get<{
        added: unknown[];
        removed: unknown[];
        relabeled: Array<{ key: string; from: unknown; to: unknown }>;
        revised: number;
        unchanged: number;
        classesAdded: string[];
      }>(`/api/v1/snapshots/${enc(from)}/diff/${enc(to)}`);
      emit(o, d, () => {
        process.stdout.write(
          `added ${d.added.length}, removed ${d.removed.length}, relabeled ${d.relabeled.length}, unchanged ${d.unchanged + d.revised}\n`,
        );
        if (d.classesAdded.length > 0) process.stdout.write(`classes added: ${d.classesAdded.join(", ")}\n`);
        for (const r of d.relabeled.slice(0, 20))
          process.stdout.write(`  ${r.key}: ${JSON.stringify(r.from)} -> ${JSON.stringify(r.to)}\n`);
      });
    });

  data
    .command("export <snapshot>")
    .description("download a snapshot: manifest.json, and images in ImageFolder layout")
    .requiredOption("--out <dir>", "output directory")
    .option("--format <format>", "imagefolder | manifest", "imagefolder")
    .action(async (id: string, _o, command: Command) => {
      const o = optionsOf<{ out: string; format: string }>(command);
      if (o.format !== "imagefolder" && o.format !== "manifest")
        throw new CliError("--format must be imagefolder or manifest", 2);
      const client = ctx.client();
      const bytes = new Uint8Array(
        await (await client.raw("GET", `/api/v1/snapshots/${enc(id)}/manifest`)).arrayBuffer(),
      );
      const manifest = parseManifest(Buffer.from(bytes).toString("utf8"));
      const result = await exportSnapshot({
        manifest,
        manifestBytes: bytes,
        outDir: path.resolve(ctx.cwd, o.out),
        format: o.format,
        openBlob: async (sha) => {
          const response = await client.raw("GET", `/api/v1/snapshots/${enc(id)}/blobs/${sha}`);
          return Readable.fromWeb(response.body as WebReadableStream<Uint8Array>);
        },
      });
      emit(o, result, () => process.stdout.write(`exported ${result.images} images to ${result.outDir}\n`));
    });

  data
    .command("labels")
    .description("label ingestion")
    .command("push <dataset>")
    .description(
      "push labels from a JSON array (or JSON lines) of {item, idempotencyKey, label|delete, prediction?}",
    )
    .requiredOption("--file <file>", "labels file")
    .option("--project <project>", "project (default: default)")
    .action(async (name: string, _o, command: Command) => {
      const o = optionsOf<ProjectOpt & { file: string }>(command);
      const labels = parseLabelsFile(await readFile(path.resolve(ctx.cwd, o.file), "utf8"));
      let stored = 0;
      let duplicates = 0;
      for (let i = 0; i < labels.length; i += 500) {
        const r = await ctx
          .client()
          .post<{ stored: number; duplicates: number }>(datasetPath(name, "/labels", o.project), {
            labels: labels.slice(i, i + 500),
          });
        stored += r.stored;
        duplicates += r.duplicates;
      }
      emit(o, { stored, duplicates }, () =>
        process.stdout.write(`stored ${stored} labels (${duplicates} already known)\n`),
      );
    });
}

async function readSource(
  ctx: CliContext,
  o: { imageFolder?: string; labelStudio?: string; coco?: string; images?: string },
  task: DatasetTask,
): Promise<ImportSource> {
  const chosen = [o.imageFolder, o.labelStudio, o.coco].filter(Boolean).length;
  if (chosen !== 1) throw new CliError("give exactly one of --image-folder, --label-studio, --coco", 2);
  const abs = (p: string) => path.resolve(ctx.cwd, p);
  // The readers are loaded on use (`mlops --help` stays fast).
  const [{ readImageFolder }, { readLabelStudioExport }, { readCoco }] = await Promise.all([
    import("../../data/imports/image-folder.js"),
    import("../../data/imports/label-studio-export.js"),
    import("../../data/imports/coco.js"),
  ]);
  if (o.imageFolder) {
    if (task !== "classification")
      throw new CliError("--image-folder imports classification datasets; use --coco or --label-studio", 2);
    return readImageFolder(abs(o.imageFolder));
  }
  if (!o.images) throw new CliError("--images <dir> is required with --label-studio and --coco", 2);
  return o.labelStudio
    ? readLabelStudioExport(abs(o.labelStudio), abs(o.images), task)
    : readCoco(abs(o.coco as string), abs(o.images), task);
}

function importApi(client: ApiClient, dataset: Dataset): ImportApi {
  const base = `/api/v1/datasets/${dataset.id}`;
  let sessionId: string | undefined;
  return {
    session: {
      open: async (source) => {
        sessionId = (await client.post<{ id: string }>(`${base}/imports`, { source })).id;
      },
      batch: async (items) => {
        if (sessionId) await client.post(`${base}/imports/${sessionId}/progress`, { items });
      },
      finish: async () => {
        if (sessionId) await client.post(`${base}/imports/${sessionId}/finish`, {});
      },
    },
    addClasses: async (classes) => {
      if (classes.some((c) => !dataset.classes.includes(c)))
        await client.patch(base, { addClasses: classes });
    },
    missing: async (sha256) =>
      (await client.post<{ missing: string[] }>(`${base}/blobs/missing`, { sha256 })).missing,
    upload: async (file, sha256) => {
      await client.raw("POST", `${base}/blobs?sha256=${sha256}`, {
        body: Readable.toWeb(createReadStream(file)) as ReadableStream,
        headers: { "content-type": "application/octet-stream" },
        duplex: "half",
      } as RequestInit);
    },
    addItems: (items) => client.post(`${base}/items`, { items }),
  };
}

function parseLabelsFile(text: string): LabelPushInput[] {
  const trimmed = text.trim();
  try {
    const parsed: unknown = trimmed.startsWith("[")
      ? JSON.parse(trimmed)
      : trimmed
          .split("\n")
          .filter((l) => l.trim())
          .map((l) => JSON.parse(l));
    if (!Array.isArray(parsed)) throw new Error("expected an array");
    return parsed as LabelPushInput[];
  } catch (err) {
    throw new CliError(`labels file is not a JSON array or JSON lines: ${(err as Error).message}`, 2);
  }
}
