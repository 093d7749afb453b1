/**
 * `mlops run list | head -1`: once the reader of stdout (or stderr) has gone, the next write fails with EPIPE,
 * which Node raises as an unhandled 'error' event. A Unix tool would be ended by SIGPIPE without a word; the CLI
 * does the same and exits quietly with 0. Any other stream error still surfaces.
 */
export function exitQuietlyOnBrokenPipe(
  streams: NodeJS.WriteStream[] = [process.stdout, process.stderr],
): void {
  for (const stream of streams) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
  }
}
