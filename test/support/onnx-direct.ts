/**
 * Measuring helpers for the serving benchmark and the runner's tests: a direct, in-process onnxruntime
 * session as the baseline, latency percentiles, and a fixed-concurrency load loop.
 */
import * as ort from "onnxruntime-node";

/** The baseline: one onnxruntime session on the calling thread, with the runner's session options. */
export async function createDirectSession(
  modelPath: string,
  intraOpNumThreads = 1,
): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    intraOpNumThreads,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
}

/** Runs a float32 tensor through a direct session and returns its outputs' data by name. */
export async function runDirect(
  session: ort.InferenceSession,
  inputName: string,
  data: Float32Array,
  shape: number[],
): Promise<Record<string, ort.Tensor>> {
  return session.run({ [inputName]: new ort.Tensor("float32", data, shape) });
}

/** Nearest-rank percentile of a list of numbers (p in 0..100). */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export interface LatencyStats {
  count: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
}

/** Calls `fn` sequentially `iterations` times after `warmup` untimed calls. */
export async function measureLatency(
  fn: () => Promise<unknown>,
  iterations: number,
  warmup = Math.min(100, iterations),
): Promise<LatencyStats> {
  for (let i = 0; i < warmup; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t = performance.now();
    await fn();
    samples.push(performance.now() - t);
  }
  return {
    count: samples.length,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
    meanMs: samples.reduce((a, b) => a + b, 0) / samples.length,
  };
}

export interface ThroughputStats {
  requests: number;
  seconds: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
}

/** Keeps `concurrency` calls in flight until `total` calls have completed. */
export async function measureThroughput(
  fn: () => Promise<unknown>,
  concurrency: number,
  total: number,
): Promise<ThroughputStats> {
  let issued = 0;
  const samples: number[] = [];
  const started = performance.now();
  const loop = async () => {
    while (issued < total) {
      issued++;
      const t = performance.now();
      await fn();
      samples.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, loop));
  const seconds = (performance.now() - started) / 1000;
  return {
    requests: samples.length,
    seconds,
    perSecond: samples.length / seconds,
    p50Ms: percentile(samples, 50),
    p99Ms: percentile(samples, 99),
  };
}
