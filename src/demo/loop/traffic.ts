import { DEFAULT_CLASSES, encodePng, synthesizeImage } from "../synthetic-data.js";

export interface TrafficStats {
  sent: number;
  failed: number;
  /** Answers per model version (`<model>:<version>`), canary answers included. */
  byVersion: Record<string, number>;
  canary: number;
}

/**
 * Live traffic for a deployment: shifted images drawn in memory, posted as raw `image/png` to the
 * convenience predict endpoint at a steady rate by a few concurrent callers (an async loop in this
 * process, so the demo needs no extra threads), until stopped. A failed request counts; the callers never
 * retry, so a canary failure that reached a caller would show here.
 */
export class TrafficGenerator {
  readonly stats: TrafficStats = { sent: 0, failed: 0, byVersion: {}, canary: 0 };
  private stopped = false;
  private running: Promise<void> | undefined;

  constructor(
    private readonly o: {
      url: string;
      token: string;
      deployment: string;
      perSecond: number;
      seed: number;
      pool?: number;
    },
  ) {}

  start(): void {
    this.running = this.run();
  }

  async stop(): Promise<TrafficStats> {
    this.stopped = true;
    await this.running;
    return this.stats;
  }

  private async run(): Promise<void> {
    const spec = { seed: this.o.seed, shift: true, imageSize: 32, classes: DEFAULT_CLASSES };
    const pool: Buffer[] = [];
    for (let i = 0; i < (this.o.pool ?? 64); i++)
      pool.push(await encodePng(synthesizeImage(spec, i).pixels, 32));
    const started = Date.now();
    let index = 0;
    const caller = async (id: number) => {
      while (!this.stopped) {
        const n = index++;
        const due = started + (n * 1000) / this.o.perSecond;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
        if (this.stopped) return;
        try {
          const response = await fetch(`${this.o.url}/api/v1/deployments/${this.o.deployment}/predict`, {
            method: "POST",
            headers: {
              authorization: `Bearer ${this.o.token}`,
              "content-type": "image/png",
              "x-routing-key": `caller-${id}-${n}`,
            },
            body: pool[n % pool.length],
          });
          const body = (await response.json()) as { model?: string; modelVersion?: number; canary?: boolean };
          this.stats.sent++;
          if (!response.ok) {
            this.stats.failed++;
            continue;
          }
          const key = `${body.model}:${body.modelVersion}`;
          this.stats.byVersion[key] = (this.stats.byVersion[key] ?? 0) + 1;
          if (body.canary) this.stats.canary++;
        } catch {
          this.stats.sent++;
          this.stats.failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: 3 }, (_, i) => caller(i)));
  }
}
