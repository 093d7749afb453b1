/** Progress of the demo: human lines on a terminal, nothing (the caller prints JSON at the end) with --json. */
export interface LoopReporter {
  section(title: string): void;
  line(text: string): void;
  /** A counter on one line (rewritten in place on a terminal). */
  progress(label: string, done: number, total: number): void;
}

export function silentReporter(): LoopReporter {
  return { section() {}, line() {}, progress() {} };
}

export function consoleReporter(out: NodeJS.WriteStream = process.stdout): LoopReporter {
  const started = Date.now();
  let sections = 0;
  let inProgress = false;
  const stamp = () => `[${((Date.now() - started) / 1000).toFixed(1).padStart(6)}s]`;
  const endProgress = () => {
    if (inProgress) out.write("\n");
    inProgress = false;
  };
  return {
    section(title) {
      endProgress();
      sections++;
      out.write(`\n${stamp()} == ${sections}. ${title}\n`);
    },
    line(text) {
      endProgress();
      out.write(`${stamp()}    ${text}\n`);
    },
    progress(label, done, total) {
      if (!out.isTTY) {
        if (done === total) out.write(`${stamp()}    ${label}: ${done}/${total}\n`);
        return;
      }
      inProgress = done < total;
      out.write(`\r${stamp()}    ${label}: ${done}/${total}${done === total ? "\n" : ""}`);
    },
  };
}
