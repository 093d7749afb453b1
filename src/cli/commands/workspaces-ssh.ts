import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { Command } from "commander";
import type { ApiClient } from "../client.js";
import { type CliContext, CliError, optionsOf } from "../context.js";
import { emit } from "../output.js";
import { enc } from "../client.js";

/**
 * `mlops workspace ssh` and `ssh-config`: the system's OpenSSH client, with the workspace's host key pinned.
 * The known_hosts file is written from the API's answer (the platform made the host key), keyed by the
 * `mlops-<name>` alias (HostKeyAlias), so it stays valid when a restart moves the workspace to another port.
 */
interface Connection {
  alias: string;
  host: string;
  port: number;
  user: string;
  hostPublicKey: string;
  hostKeyFingerprint: string;
}

/** Path of a workspace by id or (the caller's own) name, with its project for name lookups. */
export function workspacePath(ref: string, project?: string, suffix = ""): string {
  const query = project ? `?project=${encodeURIComponent(project)}` : "";
  return `/api/v1/workspaces/${enc(ref)}${suffix}${query}`;
}

export function registerWorkspaceSshCommands(workspace: Command, ctx: CliContext): void {
  workspace
    .command("ssh")
    .description(
      "open a shell in a running workspace (or run COMMAND): mlops workspace ssh dev1 [-- COMMAND]",
    )
    .argument("<workspace>", "name (yours) or id")
    .argument("[command...]", "command to run instead of a shell, after --")
    .option("--project <project>", "project of a name")
    .option("-i, --identity <file>", "private key (default: the one in ~/.ssh matching a registered key)")
    .action(async (ref: string, command: string[], _o, cmd: Command) => {
      const opts = optionsOf<{ project?: string; identity?: string }>(cmd);
      const client = ctx.client();
      const connection = await client.get<Connection>(workspacePath(ref, opts.project, "/connection"));
      const knownHosts = writeKnownHosts(ctx, [connection]);
      const identity = opts.identity ?? (await findIdentity(ctx, client));
      const args = [
        "-p",
        String(connection.port),
        ...(identity ? ["-i", identity, "-o", "IdentitiesOnly=yes"] : []),
        "-o",
        `HostKeyAlias=${connection.alias}`,
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${knownHosts}`,
        `${connection.user}@${connection.host}`,
        ...command,
      ];
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawn(ctx.env.MLOPS_SSH ?? "ssh", args, { stdio: "inherit" });
        child.on("error", (err) => reject(new CliError(`cannot run ssh: ${err.message}`, 1)));
        child.on("close", (status) => resolve(status ?? 255));
      });
      if (code !== 0) throw new CliError(`ssh exited with status ${code}`, code === 255 ? 6 : 1);
    });

  workspace
    .command("ssh-config")
    .description(
      "print ~/.ssh/config entries (Host mlops-NAME) for your running workspaces: >> ~/.ssh/config",
    )
    .option("-i, --identity <file>", "private key (default: the one in ~/.ssh matching a registered key)")
    .action(async (_o, cmd: Command) => {
      const opts = optionsOf<{ identity?: string }>(cmd);
      const client = ctx.client();
      const { connections } = await client.get<{ connections: Connection[] }>(
        "/api/v1/users/me/workspace-connections",
      );
      const knownHosts = writeKnownHosts(ctx, connections);
      const identity = opts.identity ?? (await findIdentity(ctx, client));
      emit(opts, { connections, knownHosts, identity: identity ?? null }, () => {
        if (connections.length === 0) process.stderr.write("no running workspaces\n");
        process.stdout.write(connections.map((c) => sshConfigEntry(c, knownHosts, identity)).join("\n"));
      });
    });
}

/** One `Host` block: what VS Code Remote-SSH and JetBrains Gateway read from ~/.ssh/config. */
export function sshConfigEntry(connection: Connection, knownHosts: string, identity: string | null): string {
  return [
    `Host ${connection.alias}`,
    `  HostName ${connection.host}`,
    `  Port ${connection.port}`,
    `  User ${connection.user}`,
    ...(identity ? [`  IdentityFile ${identity}`, "  IdentitiesOnly yes"] : []),
    `  HostKeyAlias ${connection.alias}`,
    "  StrictHostKeyChecking yes",
    `  UserKnownHostsFile ${knownHosts}`,
    "  ServerAliveInterval 30",
    "",
  ].join("\n");
}

/** `<config dir>/known_hosts`: the given workspaces' host keys replace their old lines; others stay. */
function writeKnownHosts(ctx: CliContext, connections: readonly Connection[]): string {
  mkdirSync(ctx.configDir, { recursive: true, mode: 0o700 });
  const file = path.join(ctx.configDir, "known_hosts");
  const aliases = new Set(connections.map((c) => c.alias));
  const kept = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "" && !aliases.has(line.split(" ")[0]))
    : [];
  const lines = [
    ...kept,
    ...connections.map((c) => `${c.alias} ${c.hostPublicKey.split(" ").slice(0, 2).join(" ")}`),
  ];
  writeFileSync(file, `${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}

/** The private key in ~/.ssh whose .pub is one of the caller's registered keys, if any. */
async function findIdentity(ctx: CliContext, client: ApiClient): Promise<string | null> {
  const sshDir = path.join(ctx.env.HOME ?? os.homedir(), ".ssh");
  let files: string[];
  try {
    files = readdirSync(sshDir).filter((name) => name.endsWith(".pub"));
  } catch {
    return null;
  }
  const { keys } = await client.get<{ keys: Array<{ publicKey: string }> }>("/api/v1/users/me/ssh-keys");
  const registered = new Set(keys.map((key) => key.publicKey.split(" ").slice(0, 2).join(" ")));
  for (const name of files.sort()) {
    const text = readFileSync(path.join(sshDir, name), "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
    const privateKey = path.join(sshDir, name.slice(0, -".pub".length));
    if (registered.has(text) && existsSync(privateKey)) return privateKey;
  }
  return null;
}
