import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { enc } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit, formatTime, printKeyValues, printTable } from "../output.js";
import { registerWorkspaceSshCommands, workspacePath } from "./workspaces-ssh.js";

/**
 * Workspaces on the command line (docs/architecture/workspaces.md): `mlops workspace create|list|show|
 * start|stop|delete|ssh|ssh-config` and the user's SSH keys, `mlops ssh-key add|list|remove`.
 */
export interface WorkspaceReply {
  id: string;
  projectId: string;
  name: string;
  owner: string;
  state: string;
  stateReason: string;
  resources: { cpu: number; memoryMiB: number; gpus: number; gpuType?: string };
  image?: string;
  idleTimeoutSeconds: number;
  jobId: string | null;
  createdAt: number;
  startedAt: number | null;
  hostKeyFingerprint: string;
  connection?: { host: string; port: number; user: string } | null;
  sessions?: number;
  lastActivityAt?: number | null;
}

interface SshKeyReply {
  id: string;
  name: string;
  type: string;
  fingerprint: string;
  createdAt: number;
}

const integer = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new CliError(`${name} must be an integer, got '${value}'`, 2);
  return parsed;
};
const number = (name: string) => (value: string) => {
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new CliError(`${name} must be a number, got '${value}'`, 2);
  return parsed;
};

export function registerWorkspaceCommands(program: Command, ctx: CliContext): void {
  const workspace = program
    .command("workspace")
    .description("GPU development environments over SSH (VS Code Remote-SSH, JetBrains Gateway)");

  workspace
    .command("create")
    .description("create a workspace and start it: mlops workspace create dev1 --gpus 2 --gpu-type h100")
    .argument("<name>", "workspace name (lower-case letters, digits, '-')")
    .option("--project <project>", "project", "default")
    .option("--gpus <n>", "GPUs", integer("--gpus"))
    .option("--gpu-type <type>", "GPU type, e.g. h100")
    .option("--cpu <cores>", "CPU cores", number("--cpu"))
    .option("--memory <mib>", "memory in MiB", integer("--memory"))
    .option("--image <name>", "container image (cluster runtimes)")
    .option("--idle-timeout <duration>", "stop after this long without SSH sessions or CPU/GPU use, e.g. 2h")
    .action(async (name: string, _o, cmd: Command) => {
      const opts = optionsOf<{
        project: string;
        gpus?: number;
        gpuType?: string;
        cpu?: number;
        memory?: number;
        image?: string;
        idleTimeout?: string;
      }>(cmd);
      const created = await ctx.client().post<WorkspaceReply>("/api/v1/workspaces", {
        name,
        project: opts.project,
        resources: {
          ...(opts.gpus !== undefined ? { gpus: opts.gpus } : {}),
          ...(opts.gpuType ? { gpuType: opts.gpuType } : {}),
          ...(opts.cpu !== undefined ? { cpu: opts.cpu } : {}),
          ...(opts.memory !== undefined ? { memoryMiB: opts.memory } : {}),
        },
        ...(opts.image ? { image: opts.image } : {}),
        ...(opts.idleTimeout ? { idleTimeout: opts.idleTimeout } : {}),
      });
      emit(opts, created, () => {
        process.stdout.write(
          `workspace ${created.name} ${created.state} (${created.stateReason}); id ${created.id}\n`,
        );
        process.stdout.write(`connect when running: mlops workspace ssh ${created.name}\n`);
      });
    });

  workspace
    .command("list")
    .description("workspaces of your projects")
    .option("--project <project>", "only this project")
    .action(async (_o, cmd: Command) => {
      const opts = optionsOf<{ project?: string }>(cmd);
      const { workspaces } = await ctx
        .client()
        .get<{ workspaces: WorkspaceReply[] }>("/api/v1/workspaces", { project: opts.project });
      emit(opts, workspaces, () =>
        printTable(
          workspaces.map((w) => ({
            name: w.name,
            owner: w.owner,
            state: w.state,
            gpus: w.resources.gpus
              ? `${w.resources.gpus}${w.resources.gpuType ? ` ${w.resources.gpuType}` : ""}`
              : 0,
            reason: w.stateReason,
            id: w.id,
          })),
        ),
      );
    });

  workspace
    .command("show")
    .description("one workspace")
    .argument("<workspace>", "name (yours) or id")
    .option("--project <project>", "project of a name")
    .action(async (ref: string, _o, cmd: Command) => {
      const opts = optionsOf<{ project?: string }>(cmd);
      const shown = await ctx.client().get<WorkspaceReply>(workspacePath(ref, opts.project));
      emit(opts, shown, () =>
        printKeyValues({
          name: shown.name,
          id: shown.id,
          owner: shown.owner,
          state: shown.state,
          reason: shown.stateReason,
          resources: shown.resources,
          idleTimeout: `${shown.idleTimeoutSeconds}s`,
          job: shown.jobId,
          started: formatTime(shown.startedAt),
          ssh: shown.connection
            ? `${shown.connection.user}@${shown.connection.host}:${shown.connection.port}`
            : null,
          sessions: shown.sessions,
          lastActivity: formatTime(shown.lastActivityAt ?? null),
          hostKey: shown.hostKeyFingerprint,
        }),
      );
    });

  for (const [verb, description] of [
    ["start", "start a stopped workspace (a new job: it may queue for GPUs)"],
    ["stop", "stop a workspace: its GPUs are freed, its home is kept"],
  ] as const) {
    workspace
      .command(verb)
      .description(description)
      .argument("<workspace>", "name (yours) or id")
      .option("--project <project>", "project of a name")
      .action(async (ref: string, _o, cmd: Command) => {
        const opts = optionsOf<{ project?: string }>(cmd);
        const reply = await ctx.client().post<WorkspaceReply>(workspacePath(ref, opts.project, `/${verb}`));
        emit(opts, reply, () =>
          process.stdout.write(`workspace ${reply.name} ${reply.state} (${reply.stateReason})\n`),
        );
      });
  }

  workspace
    .command("delete")
    .description("delete a workspace and its home directory")
    .argument("<workspace>", "name (yours) or id")
    .option("--project <project>", "project of a name")
    .option("--keep-home", "keep the home volume")
    .action(async (ref: string, _o, cmd: Command) => {
      const opts = optionsOf<{ project?: string; keepHome?: boolean }>(cmd);
      const query = new URLSearchParams();
      if (opts.project) query.set("project", opts.project);
      if (opts.keepHome) query.set("keepHome", "true");
      const suffix = query.size > 0 ? `?${query}` : "";
      await ctx.client().delete(`/api/v1/workspaces/${enc(ref)}${suffix}`);
      emit(opts, { deleted: ref }, () => process.stdout.write(`workspace ${ref} deleted\n`));
    });

  workspace
    .command("limits")
    .description("show or set a project's workspace limits (project managers, admins)")
    .argument("<project>", "project")
    .option("--max-gpus <n>", "GPUs the project's workspaces may hold together ('none': no limit)")
    .option(
      "--max-lifetime <duration>",
      "longest a workspace runs before it is stopped, e.g. 7d ('none': server default)",
    )
    .action(async (project: string, _o, cmd: Command) => {
      const opts = optionsOf<{ maxGpus?: string; maxLifetime?: string }>(cmd);
      const path = `/api/v1/projects/${enc(project)}/workspace-limits`;
      const body: Record<string, unknown> = {};
      if (opts.maxGpus !== undefined)
        body.maxGpus = opts.maxGpus === "none" ? null : integer("--max-gpus")(opts.maxGpus);
      if (opts.maxLifetime !== undefined)
        body.maxLifetime = opts.maxLifetime === "none" ? null : opts.maxLifetime;
      const client = ctx.client();
      const limits =
        Object.keys(body).length > 0
          ? await client.put<Record<string, unknown>>(path, body)
          : await client.get<Record<string, unknown>>(path);
      emit(opts, limits, () => printKeyValues(limits));
    });

  registerWorkspaceSshCommands(workspace, ctx);

  const sshKey = program
    .command("ssh-key")
    .description("your SSH public keys (workspaces accept only these)");
  sshKey
    .command("add")
    .description("register a public key: mlops ssh-key add ~/.ssh/id_ed25519.pub")
    .argument("<file>", "public key file (.pub)")
    .option("--name <name>", "a name for it (default: the key's comment)")
    .action(async (file: string, _o, cmd: Command) => {
      const opts = optionsOf<{ name?: string }>(cmd);
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (err) {
        throw new CliError(`cannot read ${file}: ${(err as Error).message}`, 2);
      }
      // A private key never leaves this machine.
      if (text.includes("PRIVATE KEY-----")) {
        throw new CliError(`${file} is a private key: give the .pub file (e.g. ${file}.pub)`, 2);
      }
      const key = await ctx.client().post<SshKeyReply>("/api/v1/users/me/ssh-keys", {
        publicKey: text,
        ...(opts.name ? { name: opts.name } : {}),
      });
      emit(opts, key, () =>
        process.stdout.write(`added ${key.type} key ${key.fingerprint} (${key.name}); id ${key.id}\n`),
      );
    });
  sshKey
    .command("list")
    .description("your registered keys")
    .action(async (_o, cmd: Command) => {
      const opts = optionsOf(cmd);
      const { keys } = await ctx.client().get<{ keys: SshKeyReply[] }>("/api/v1/users/me/ssh-keys");
      emit(opts, keys, () =>
        printTable(
          keys.map((k) => ({
            id: k.id,
            name: k.name,
            type: k.type,
            fingerprint: k.fingerprint,
            added: formatTime(k.createdAt),
          })),
        ),
      );
    });
  sshKey
    .command("remove")
    .description("remove a key (id or SHA256 fingerprint); running workspaces drop it at their next start")
    .argument("<key>", "id or fingerprint")
    .action(async (ref: string, _o, cmd: Command) => {
      const opts = optionsOf(cmd);
      const client = ctx.client();
      const { keys } = await client.get<{ keys: SshKeyReply[] }>("/api/v1/users/me/ssh-keys");
      const key = keys.find((k) => k.id === ref || k.fingerprint === ref);
      if (!key) throw new CliError(`no SSH key ${ref}`, 4);
      await client.delete(`/api/v1/users/me/ssh-keys/${enc(key.id)}`);
      emit(opts, { removed: key.id }, () => process.stdout.write(`removed ${key.fingerprint}\n`));
    });
}
