import type { Command } from "commander";
import { ApiClient } from "../client.js";
import { type CliContext, optionsOf } from "../context.js";
import { writeCredentials } from "../credentials.js";
import { emit, printKeyValues } from "../output.js";

interface WhoAmI {
  user: { id: string; name: string; role: string };
  tokenId: string;
  scope?: Record<string, string>;
}

export function registerAuthCommands(program: Command, ctx: CliContext): void {
  program
    .command("login")
    .description("store the server URL and an API token for later commands (file mode 0600)")
    .requiredOption("--url <url>", "server URL, e.g. http://127.0.0.1:8080")
    .requiredOption("--token <token>", "API token")
    .action(async (_opts, command: Command) => {
      const opts = optionsOf<{ url: string; token: string }>(command);
      const client = new ApiClient({ url: opts.url, token: opts.token });
      const me = await client.get<WhoAmI>("/api/v1/whoami");
      const file = writeCredentials(ctx.configDir, { url: client.url, token: opts.token });
      emit(opts, { url: client.url, user: me.user.name, role: me.user.role, credentialsFile: file }, () =>
        process.stdout.write(
          `logged in to ${client.url} as ${me.user.name} (${me.user.role}); credentials in ${file}\n`,
        ),
      );
    });

  program
    .command("whoami")
    .description("show the user behind the current token")
    .action(async (_opts, command: Command) => {
      const opts = optionsOf(command);
      const client = ctx.client();
      const me = await client.get<WhoAmI>("/api/v1/whoami");
      emit(opts, { url: client.url, ...me }, () =>
        printKeyValues({
          url: client.url,
          user: me.user.name,
          role: me.user.role,
          token: me.tokenId,
          ...(me.scope ? { scope: me.scope } : {}),
        }),
      );
    });
}
