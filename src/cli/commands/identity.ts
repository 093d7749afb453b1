import type { Command } from "commander";
import { enc } from "../client.js";
import { type CliContext, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";

interface User {
  id: string;
  name: string;
  role: string;
  createdAt: number;
}
interface TokenInfo {
  id: string;
  userId: string;
  name: string;
  prefix: string;
  createdAt: number;
  expiresAt: number | null;
  revokedAt: number | null;
  lastUsedAt: number | null;
}

export function registerIdentityCommands(program: Command, ctx: CliContext): void {
  const user = program.command("user").description("manage users (admin)");
  user
    .command("create <name>")
    .description("create a user")
    .option("--role <role>", "admin | engineer | labeler | viewer", "engineer")
    .action(async (name: string, _o, command: Command) => {
      const opts = optionsOf<{ role: string }>(command);
      const created = await ctx.client().post<User>("/api/v1/users", { name, role: opts.role });
      emit(opts, created, () =>
        process.stdout.write(`created user ${created.name} (${created.role}) id ${created.id}\n`),
      );
    });
  user
    .command("list")
    .description("list users")
    .action(async (_o, command: Command) => {
      const opts = optionsOf(command);
      const { users } = await ctx.client().get<{ users: User[] }>("/api/v1/users");
      emit(opts, users, () =>
        printTable(
          users.map((u) => ({ name: u.name, role: u.role, id: u.id, created: formatTime(u.createdAt) })),
        ),
      );
    });

  const token = program.command("token").description("manage API tokens");
  token
    .command("create")
    .description("create an API token (printed once)")
    .option("--name <name>", "a label for the token", "cli")
    .option("--user <user>", "create it for another user (admin)")
    .option("--expires-in <seconds>", "expire after this many seconds", (v) => Number.parseInt(v, 10))
    .action(async (_o, command: Command) => {
      const opts = optionsOf<{ name: string; user?: string; expiresIn?: number }>(command);
      const issued = await ctx.client().post<{ token: string; info: TokenInfo }>("/api/v1/tokens", {
        name: opts.name,
        user: opts.user,
        expiresInSeconds: opts.expiresIn,
      });
      emit(opts, issued, () => {
        process.stdout.write(`${issued.token}\n`);
        process.stderr.write(`token ${issued.info.id} created; it is shown only once\n`);
      });
    });
  token
    .command("list")
    .description("list your tokens (admins: --user NAME or --user '*')")
    .option("--user <user>", "whose tokens")
    .action(async (_o, command: Command) => {
      const opts = optionsOf<{ user?: string }>(command);
      const { tokens } = await ctx
        .client()
        .get<{ tokens: TokenInfo[] }>("/api/v1/tokens", { user: opts.user });
      emit(opts, tokens, () =>
        printTable(
          tokens.map((t) => ({
            id: t.id,
            name: t.name,
            prefix: t.prefix,
            created: formatTime(t.createdAt),
            expires: formatTime(t.expiresAt),
            revoked: formatTime(t.revokedAt),
            lastUsed: formatTime(t.lastUsedAt),
          })),
        ),
      );
    });
  token
    .command("revoke <id>")
    .description("revoke a token")
    .action(async (id: string, _o, command: Command) => {
      const opts = optionsOf(command);
      const revoked = await ctx.client().delete<TokenInfo>(`/api/v1/tokens/${enc(id)}`);
      emit(opts, revoked, () => process.stdout.write(`revoked token ${revoked.id} (${revoked.name})\n`));
    });

  const project = program.command("project").description("manage projects");
  project
    .command("create <name>")
    .description("create a project (you become its admin/engineer member)")
    .option("--description <text>", "what it is for", "")
    .action(async (name: string, _o, command: Command) => {
      const opts = optionsOf<{ description: string }>(command);
      const created = await ctx
        .client()
        .post<{ id: string; name: string }>("/api/v1/projects", { name, description: opts.description });
      emit(opts, created, () => process.stdout.write(`created project ${created.name} id ${created.id}\n`));
    });
  project
    .command("list")
    .description("projects you can see")
    .action(async (_o, command: Command) => {
      const opts = optionsOf(command);
      const { projects } = await ctx.client().get<{
        projects: Array<{
          id: string;
          name: string;
          description: string;
          quotas: object;
          createdAt: number;
        }>;
      }>("/api/v1/projects");
      emit(opts, projects, () =>
        printTable(
          projects.map((p) => ({ name: p.name, id: p.id, quotas: p.quotas, description: p.description })),
        ),
      );
    });
  project
    .command("members <project>")
    .description("list members; with --add USER --role ROLE or --remove USER, change them")
    .option("--add <user>", "add a member or change their role")
    .option("--role <role>", "role for --add", "engineer")
    .option("--remove <user>", "remove a member")
    .action(async (name: string, _o, command: Command) => {
      const opts = optionsOf<{ add?: string; role: string; remove?: string }>(command);
      const client = ctx.client();
      if (opts.add)
        await client.put(`/api/v1/projects/${enc(name)}/members/${enc(opts.add)}`, { role: opts.role });
      if (opts.remove) await client.delete(`/api/v1/projects/${enc(name)}/members/${enc(opts.remove)}`);
      const { members } = await client.get<{
        members: Array<{ userName: string; role: string; addedAt: number }>;
      }>(`/api/v1/projects/${enc(name)}/members`);
      emit(opts, members, () =>
        printTable(members.map((m) => ({ user: m.userName, role: m.role, added: formatTime(m.addedAt) }))),
      );
    });
  project
    .command("quota <project>")
    .description("set project quotas (admin)")
    .requiredOption("--gpus <n>", "maximum GPUs held at once", (v) => Number.parseInt(v, 10))
    .action(async (name: string, _o, command: Command) => {
      const opts = optionsOf<{ gpus: number }>(command);
      const updated = await ctx
        .client()
        .put<{ name: string; quotas: object }>(`/api/v1/projects/${enc(name)}/quotas`, { gpus: opts.gpus });
      emit(opts, updated, () => printKeyValues({ project: updated.name, quotas: updated.quotas }));
    });
}
