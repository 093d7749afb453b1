import type { LogChunk } from "../runtime/runtime.js";

/**
 * The interleaved view of a distributed job's logs (docs/jobs-and-workloads.md): the ranks' streams read
 * side by side, cut into whole lines, each line prefixed `[rank R] `. Line-buffered per rank and stream,
 * so a line is never split by another rank's output; a line longer than MAX_LINE_BYTES is cut (progress
 * bars that never print a newline must not grow a buffer without bound).
 */
export interface RankSource {
  rank: number;
  chunks: AsyncIterable<LogChunk>;
}

export interface RankLine {
  rank: number;
  stream: LogChunk["stream"];
  /** One line with its prefix and a trailing newline. */
  data: Buffer;
}

export const MAX_LINE_BYTES = 64 * 1024;
const NEWLINE = 0x0a;

export function rankPrefix(rank: number): string {
  return `[rank ${rank}] `;
}

/** Merges the sources as their chunks arrive; ends when every source has ended. */
export async function* interleaveRankLines(sources: readonly RankSource[]): AsyncGenerator<RankLine> {
  const iterators = sources.map((source) => ({
    rank: source.rank,
    iterator: source.chunks[Symbol.asyncIterator](),
    pending: { stdout: Buffer.alloc(0), stderr: Buffer.alloc(0) } as Record<LogChunk["stream"], Buffer>,
  }));
  const next = (index: number) => iterators[index].iterator.next().then((result) => ({ index, result }));
  const inFlight = new Map<number, Promise<{ index: number; result: IteratorResult<LogChunk> }>>();
  for (let index = 0; index < iterators.length; index++) inFlight.set(index, next(index));
  try {
    while (inFlight.size > 0) {
      const { index, result } = await Promise.race(inFlight.values());
      const source = iterators[index];
      if (result.done) {
        inFlight.delete(index);
        for (const stream of ["stdout", "stderr"] as const) {
          if (source.pending[stream].length > 0) yield line(source.rank, stream, source.pending[stream]);
          source.pending[stream] = Buffer.alloc(0);
        }
        continue;
      }
      inFlight.set(index, next(index));
      const { stream } = result.value;
      let buffer = Buffer.concat([source.pending[stream], result.value.data]);
      for (let end = buffer.indexOf(NEWLINE); end >= 0; end = buffer.indexOf(NEWLINE)) {
        yield line(source.rank, stream, buffer.subarray(0, end));
        buffer = buffer.subarray(end + 1);
      }
      while (buffer.length > MAX_LINE_BYTES) {
        yield line(source.rank, stream, buffer.subarray(0, MAX_LINE_BYTES));
        buffer = buffer.subarray(MAX_LINE_BYTES);
      }
      source.pending[stream] = Buffer.from(buffer);
    }
  } finally {
    // A consumer that stops early (client gone) ends every source it was still reading; not awaited: a
    // source blocked in a live read ends when its abort signal fires.
    for (const index of inFlight.keys()) {
      iterators[index].iterator.return?.(undefined)?.catch(() => undefined);
    }
  }
}

function line(rank: number, stream: LogChunk["stream"], content: Buffer): RankLine {
  return { rank, stream, data: Buffer.concat([Buffer.from(rankPrefix(rank)), content, Buffer.from("\n")]) };
}
