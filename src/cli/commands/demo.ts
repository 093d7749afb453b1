import type { Command } from "commander";
import { registerDemoDataCommand } from "../../demo/demo-data-command.js";
import type { CliContext } from "../context.js";
import { optionsOf } from "../context.js";

/**
 * `mlops demo [--json] [--fast]`: the whole closed loop on a fresh platform started in this process
 * (see src/demo/loop/); `mlops demo data ...`: the synthetic data set alone.
 */
export function registerDemoCommands(program: Command, ctx: CliContext): void {
  const demo = program
    .command("demo")
    .description(
      "run the closed loop end to end on a fresh in-process platform (or `demo data` for the data set)",
    )
    .option("--fast", "smaller data set and fewer epochs (about half the time)")
    .option("--keep", "keep the demo's data directory (printed at the end)")
    .action(async (_o: unknown, command: Command) => {
      const o = optionsOf<{ fast?: boolean; keep?: boolean }>(command);
      const { runDemo } = await import("../../demo/loop/run-demo.js");
      await runDemo({
        fast: o.fast ?? false,
        json: o.json ?? false,
        keep: o.keep ?? false,
        python: ctx.env.MLOPS_PYTHON,
      });
    });
  const data = registerDemoDataCommand(demo);
  // The program's global --json takes the flag before `demo data` sees its own: hand it on.
  data.hook("preAction", (command) => {
    if (command.optsWithGlobals().json) command.setOptionValue("json", true);
  });
}
