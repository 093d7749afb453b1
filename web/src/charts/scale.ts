/** Pure helpers of the metric chart: smoothing, scales and ticks (no DOM). */

export interface Point {
  x: number;
  y: number;
}

/** TensorBoard's debiased exponential moving average; weight 0 returns the points unchanged. */
export function smooth(points: Point[], weight: number): Point[] {
  if (weight <= 0) return points;
  let last = 0;
  let debias = 0;
  return points.map((p) => {
    last = last * weight + (1 - weight) * p.y;
    debias = debias * weight + (1 - weight);
    return { x: p.x, y: last / debias };
  });
}

export interface Scale {
  (value: number): number;
  ticks: number[];
}

/** Round tick values across [min, max] (about `count` of them). */
export function niceTicks(min: number, max: number, count = 5): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

export function linearScale(min: number, max: number, from: number, to: number): Scale {
  const span = max > min ? max - min : 1;
  const scale = ((v: number) => from + ((v - min) / span) * (to - from)) as Scale;
  scale.ticks = niceTicks(min, max);
  return scale;
}

/** Log10 scale over positive values; ticks at powers of ten. */
export function logScale(min: number, max: number, from: number, to: number): Scale {
  const lo = Math.log10(min);
  const hi = Math.log10(max);
  const span = hi > lo ? hi - lo : 1;
  const scale = ((v: number) => from + ((Math.log10(v) - lo) / span) * (to - from)) as Scale;
  const ticks: number[] = [];
  for (let e = Math.floor(lo); e <= Math.ceil(hi); e++)
    if (e >= lo - 1e-9 && e <= hi + 1e-9) ticks.push(10 ** e);
  scale.ticks = ticks.length > 0 ? ticks : [min, max];
  return scale;
}

export function extent(values: number[]): [number, number] {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return [min, max];
}

export function formatTick(value: number): string {
  const abs = Math.abs(value);
  if (abs !== 0 && (abs >= 1e5 || abs < 1e-3)) return value.toExponential(1);
  return String(Number(value.toPrecision(4)));
}
