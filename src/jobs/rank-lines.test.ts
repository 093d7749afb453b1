import { describe, expect, it } from "vitest";
import type { LogChunk } from "../runtime/runtime.js";
import { interleaveRankLines, MAX_LINE_BYTES } from "./rank-lines.js";

async function* chunks(...parts: Array<[LogChunk["stream"], string, number?]>): AsyncGenerator<LogChunk> {
  for (const [stream, text, delayMs] of parts) {
    if (delayMs) await new Promise((resolve) => setTimeout(resolve, delayMs));
    yield { stream, data: Buffer.from(text) };
  }
}

async function collect(lines: AsyncIterable<{ rank: number; stream: string; data: Buffer }>) {
  const out: string[] = [];
  for await (const line of lines) out.push(`${line.stream}:${line.data.toString()}`);
  return out;
}

describe("interleaveRankLines", () => {
  it("never splits a line: partial chunks of one rank wait for their newline", async () => {
    const lines = await collect(
      interleaveRankLines([
        { rank: 0, chunks: chunks(["stdout", "hel"], ["stdout", "lo\nwor", 80], ["stdout", "ld\n", 80]) },
        { rank: 1, chunks: chunks(["stdout", "one\n", 40], ["stderr", "oops\n", 80]) },
      ]),
    );
    expect(lines).toEqual([
      "stdout:[rank 1] one\n",
      "stdout:[rank 0] hello\n",
      "stderr:[rank 1] oops\n",
      "stdout:[rank 0] world\n",
    ]);
  });

  it("flushes a last line without newline, keeps streams apart, cuts endless lines", async () => {
    const long = "x".repeat(MAX_LINE_BYTES + 10);
    const lines = await collect(
      interleaveRankLines([
        { rank: 3, chunks: chunks(["stdout", "a"], ["stderr", "b\n"], ["stdout", long]) },
      ]),
    );
    expect(lines[0]).toBe("stderr:[rank 3] b\n");
    expect(lines[1]).toBe(`stdout:[rank 3] a${"x".repeat(MAX_LINE_BYTES - 1)}\n`);
    expect(lines[2]).toBe(`stdout:[rank 3] ${"x".repeat(11)}\n`);
    expect(lines).toHaveLength(3);
  });

  it("keeps multi-byte characters whole across chunk boundaries", async () => {
    const euro = Buffer.from("€\n");
    const source = (async function* (): AsyncGenerator<LogChunk> {
      yield { stream: "stdout", data: euro.subarray(0, 1) };
      yield { stream: "stdout", data: euro.subarray(1) };
    })();
    expect(await collect(interleaveRankLines([{ rank: 0, chunks: source }]))).toEqual([
      "stdout:[rank 0] €\n",
    ]);
  });
});
