import type { PlatformClient } from "./platform-client.js";

/** One item the simulated labeler works on: our item id and the class a careful labeler would choose. */
export interface LabelingTask {
  itemId: string;
  truth: string;
}

export interface LabelingStats {
  labeled: number;
  accepted: number;
  corrected: number;
  /** Per model version that pre-filled the task: [accepted, corrected]. */
  byVersion: Record<string, { accepted: number; corrected: number }>;
}

interface LsPrediction {
  model_version: string;
  result: Array<{ value: { choices?: string[] } }>;
  meta: { mlops_prediction_id: string; deployment: string };
}

/**
 * A simulated Label Studio project wired to the platform the way a real one is: its ML backend is the
 * deployment's `/integrations/label-studio/{deployment}` (tasks are pre-filled by `/predict`), and its
 * webhook posts `ANNOTATION_CREATED` to the dataset's receiver. The labeler accepts a correct pre-filled
 * choice and corrects a wrong one, so every label is linked to the prediction it answers.
 */
export class SimulatedLabelStudio {
  private nextTask = 1;
  private nextAnnotation = 1;
  readonly stats: LabelingStats = { labeled: 0, accepted: 0, corrected: 0, byVersion: {} };

  constructor(
    private readonly client: PlatformClient,
    private readonly options: { datasetId: string; deployment: string; project?: number },
  ) {}

  /** Labels the tasks, `concurrency` at a time, at most `perSecond` per second (0: as fast as it can). */
  async labelAll(
    tasks: LabelingTask[],
    o: { concurrency?: number; perSecond?: number; onLabel?: (done: number) => void } = {},
  ) {
    let next = 0;
    let done = 0;
    const started = Date.now();
    const worker = async () => {
      while (next < tasks.length) {
        const index = next++;
        if (o.perSecond) {
          const due = started + (index * 1000) / o.perSecond;
          if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        }
        await this.label(tasks[index]);
        o.onLabel?.(++done);
      }
    };
    await Promise.all(Array.from({ length: o.concurrency ?? 4 }, worker));
  }

  async label(
    task: LabelingTask,
  ): Promise<{ predicted: string | null; modelVersion: string; corrected: boolean }> {
    const taskId = this.nextTask++;
    const lsTask = {
      id: taskId,
      data: {
        image: this.client.itemImageUrl(this.options.datasetId, task.itemId),
        mlops_item: task.itemId,
      },
    };
    const { results } = await this.client.call<{ results: LsPrediction[] }>(
      "POST",
      `/integrations/label-studio/${this.options.deployment}/predict`,
      { tasks: [lsTask], project: this.options.project ?? 1 },
    );
    const prediction = results[0];
    const predicted = prediction.result[0]?.value.choices?.[0] ?? null;
    const corrected = predicted !== task.truth;
    await this.client.call("POST", `/api/v1/datasets/${this.options.datasetId}/label-studio/webhook`, {
      action: "ANNOTATION_CREATED",
      annotation: {
        id: this.nextAnnotation++,
        task: taskId,
        completed_by: 1,
        updated_at: new Date().toISOString(),
        was_cancelled: false,
        lead_time: 2.5,
        result: [
          {
            id: `r${taskId}`,
            from_name: "label",
            to_name: "image",
            type: "choices",
            origin: corrected ? "manual" : "prediction",
            value: { choices: [task.truth] },
          },
        ],
      },
      task: { ...lsTask, predictions: [prediction] },
      project: { id: this.options.project ?? 1 },
    });
    const version = prediction.model_version.split("#")[0];
    this.stats.byVersion[version] ??= { accepted: 0, corrected: 0 };
    const tally = this.stats.byVersion[version];
    if (corrected) {
      this.stats.corrected++;
      tally.corrected++;
    } else {
      this.stats.accepted++;
      tally.accepted++;
    }
    this.stats.labeled++;
    return { predicted, modelVersion: version, corrected };
  }
}
