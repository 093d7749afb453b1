import type { Command } from "commander";
import { type CliContext, optionsOf } from "../context.js";
import { emit, formatTime, printTable } from "../output.js";

interface AuditEvent {
  id: number;
  at: number;
  actor: string;
  action: string;
  subjectType: string;
  subjectId: string;
  reason: string | null;
  details: Record<string, unknown>;
}

export function registerAuditCommand(program: Command, ctx: CliContext): void {
  program
    .command("audit")
    .description("show the audit log, newest first (admins: everything; others: --project)")
    .option("--project <project>", "only this project's events")
    .option("--subject <type:id>", "only events about one subject, e.g. model:resnet")
    .option("--action <action>", "only this action, e.g. model.transition")
    .option("--actor <actor>", "only this actor")
    .option("--limit <n>", "events per page", (v) => Number.parseInt(v, 10), 50)
    .option("--before <cursor>", "page cursor from a previous call", (v) => Number.parseInt(v, 10))
    .action(async (_o, command: Command) => {
      const opts = optionsOf<{
        project?: string;
        subject?: string;
        action?: string;
        actor?: string;
        limit: number;
        before?: number;
      }>(command);
      const [subjectType, subjectId] = opts.subject ? opts.subject.split(":", 2) : [undefined, undefined];
      const page = await ctx.client().get<{ events: AuditEvent[]; nextCursor?: number }>("/api/v1/audit", {
        project: opts.project,
        subjectType,
        subjectId,
        action: opts.action,
        actor: opts.actor,
        limit: opts.limit,
        before: opts.before,
      });
      emit(opts, page, () => {
        printTable(
          page.events.map((e) => ({
            id: e.id,
            at: formatTime(e.at),
            actor: e.actor,
            action: e.action,
            subject: `${e.subjectType}:${e.subjectId}`,
            reason: e.reason,
            details: e.details,
          })),
        );
        if (page.nextCursor) process.stdout.write(`more: --before ${page.nextCursor}\n`);
      });
    });
}
