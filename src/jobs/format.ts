/** Small formatting helpers for the scheduler's human-readable reasons. */

export function formatCpu(cpuMilli: number): string {
  const cores = Math.max(cpuMilli, 0) / 1000;
  return Number.isInteger(cores) ? String(cores) : cores.toFixed(3).replace(/0+$/, "");
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return "for ever";
  const seconds = Math.round(ms / 1000);
  if (seconds < 120) return `${seconds}s`;
  const minutes = Math.round(seconds / 60);
  if (minutes < 120) return `${minutes}m`;
  return `${(minutes / 60).toFixed(1)}h`;
}
