/**
 * `mlops demo data --out DIR [--count N] [--seed S] [--shift] [--image-size 32|64] [--json]`:
 * writes the synthetic shapes data set (ImageFolder layout + labels.json).
 */
import { type Command, InvalidArgumentError } from "commander";
import { DEFAULT_CLASSES } from "./synthetic-classes.js";

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`not an integer: ${value}`);
  return n;
}

interface DemoDataOptions {
  out: string;
  count: number;
  seed: number;
  shift: boolean;
  imageSize: number;
  classes: string;
  json: boolean;
}

export function registerDemoDataCommand(parent: Command): Command {
  return parent
    .command("data")
    .description("write a deterministic synthetic vision data set (shapes; ImageFolder layout + labels.json)")
    .requiredOption("--out <dir>", "output directory (must be empty or absent)")
    .option("--count <n>", "number of images", integer, 1500)
    .option("--seed <s>", "random seed (same seed, same bytes)", integer, 1)
    .option("--shift", "draw from the shifted distribution (textures, muted colors, other sizes)", false)
    .option("--image-size <px>", "image width and height (32 or 64)", integer, 32)
    .option("--classes <list>", "comma-separated shape classes", DEFAULT_CLASSES.join(","))
    .option("--json", "print a JSON summary", false)
    .action(async (options: DemoDataOptions) => {
      const bar = options.json
        ? undefined
        : new (await import("cli-progress")).SingleBar({
            format: "images {bar} {value}/{total}",
            hideCursor: true,
          });
      bar?.start(options.count, 0);
      try {
        // sharp is loaded on use, not for `mlops --help`.
        const { generateSyntheticDataset } = await import("./synthetic-data.js");
        const result = await generateSyntheticDataset({
          outDir: options.out,
          count: options.count,
          seed: options.seed,
          shift: options.shift,
          imageSize: options.imageSize,
          classes: options.classes.split(",").map((c) => c.trim()),
          onProgress: (done) => bar?.update(done),
        });
        bar?.stop();
        if (options.json) {
          process.stdout.write(
            `${JSON.stringify({ outDir: result.outDir, count: result.count, classes: result.classes })}\n`,
          );
        } else {
          const perClass = Object.entries(result.perClass)
            .map(([c, n]) => `${c} ${n}`)
            .join(", ");
          process.stdout.write(
            `wrote ${result.count} ${result.imageSize}x${result.imageSize} images (${perClass})` +
              `${result.shift ? " from the shifted distribution" : ""} to ${result.outDir}\n`,
          );
        }
      } finally {
        bar?.stop();
      }
    });
}
