import type { LogChunk } from "../runtime.js";

/**
 * Splits the framed lines of a workload container's log (launcher.ts: `<replica><o|e>|<text>`) into one
 * replica's stdout and stderr. Lines without a frame (the launcher's own failures) belong to every replica
 * of the Pod, as stderr. Works on a stream of chunks: a partial line waits for the rest.
 */
export class FramedLogSplitter {
  private pending = "";

  constructor(private readonly replicaIndex: number) {}

  /** The chunks of this replica in `data`, in order. */
  push(data: Buffer | string): LogChunk[] {
    this.pending += data.toString("utf8");
    const lines = this.pending.split("\n");
    this.pending = lines.pop() ?? "";
    return this.chunksOf(lines);
  }

  /** The rest after the log ended (a last line without a newline). */
  end(): LogChunk[] {
    const rest = this.pending;
    this.pending = "";
    return rest === "" ? [] : this.chunksOf([rest]);
  }

  private chunksOf(lines: string[]): LogChunk[] {
    const chunks: LogChunk[] = [];
    for (const line of lines) {
      const match = /^(\d+)([oe])\|/.exec(line);
      if (match && Number(match[1]) !== this.replicaIndex) continue;
      const stream = match?.[2] === "o" ? "stdout" : "stderr";
      const text = `${match ? line.slice(match[0].length) : line}\n`;
      const last = chunks[chunks.length - 1];
      if (last && last.stream === stream) last.data = Buffer.concat([last.data, Buffer.from(text)]);
      else chunks.push({ stream, data: Buffer.from(text) });
    }
    return chunks;
  }
}

/** Drops the first `from` bytes of each stream (resuming a stream at a byte offset). */
export class StreamOffsets {
  private readonly seen = { stdout: 0, stderr: 0 };

  constructor(private readonly from: { stdout?: number; stderr?: number } = {}) {}

  apply(chunk: LogChunk): LogChunk | null {
    const skip = Math.max(0, (this.from[chunk.stream] ?? 0) - this.seen[chunk.stream]);
    this.seen[chunk.stream] += chunk.data.length;
    if (skip >= chunk.data.length) return null;
    return skip === 0 ? chunk : { stream: chunk.stream, data: chunk.data.subarray(skip) };
  }
}

/** Replaces masked values by `***`: the launcher does it in the Pod; this is the second line of defence. */
export function maskChunk(chunk: LogChunk, values: readonly string[]): LogChunk {
  if (values.length === 0) return chunk;
  let text = chunk.data.toString("utf8");
  for (const value of values) if (value !== "") text = text.split(value).join("***");
  return { stream: chunk.stream, data: Buffer.from(text) };
}
