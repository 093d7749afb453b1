import { type Config, type ConfigInput, loadConfig, publicUrlOf } from "./config.js";
import { buildServer } from "./http/server.js";
import type { App } from "./http/types.js";
import { createPlatform, type Logger, type Platform, startBackgroundWork } from "./platform.js";

/**
 * The composition root: config -> store -> services -> HTTP server -> background loops.
 * The only module (with the CLI entry) that looks at process.env.
 */

/** How long in-flight requests may take to finish when the server stops. */
const SHUTDOWN_GRACE_MS = 5_000;
export interface RunningServer {
  app: App;
  platform: Platform;
  config: Config;
  url: string;
  close(): Promise<void>;
}

export interface StartOptions extends ConfigInput {
  /** Install SIGINT/SIGTERM handlers for graceful shutdown (the CLI does; tests don't). */
  handleSignals?: boolean;
  /** Print the banner (URL, admin token location) to stdout. */
  banner?: boolean;
  /** Fastify logger override (tests pass false). */
  logger?: boolean | object;
}

export async function startServer(options: StartOptions = {}): Promise<RunningServer> {
  const config = loadConfig(options);
  const app0Logger = options.logger ?? { level: config.logLevel };
  // The platform logs through a pino logger of its own until the server exists; both share the level.
  const { pino } = await import("pino");
  const log: Logger = app0Logger === false ? pino({ level: "silent" }) : pino({ level: config.logLevel });
  // PATH: where the job sandbox's bubblewrap is looked up (the process's own, as any command would).
  const platform = await createPlatform(config, log, { searchPath: options.env?.PATH });
  let app: App;
  try {
    app = await buildServer(platform, { logger: app0Logger });
    await app.listen({ host: config.host, port: config.port });
  } catch (err) {
    await platform.close();
    throw err;
  }
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const url = publicUrlOf(config, port);
  platform.publicUrl = url;
  startBackgroundWork(platform);

  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      // In-flight requests get a grace period; a connection still busy after it (a client that stalled
      // mid-upload) is cut, or it would hold the shutdown for the keep-alive timeout (72 s).
      const cut = setTimeout(() => app.server.closeAllConnections(), SHUTDOWN_GRACE_MS);
      cut.unref();
      await app.close();
      clearTimeout(cut);
      await platform.close();
    })();
    return closing;
  };

  if (options.handleSignals) {
    for (const signal of ["SIGINT", "SIGTERM"] as const) {
      process.once(signal, () => {
        log.info({ signal }, "shutting down");
        const force = setTimeout(() => process.exit(1), 10_000);
        force.unref();
        close().then(
          () => process.exit(0),
          (err) => {
            log.error({ err }, "shutdown failed");
            process.exit(1);
          },
        );
      });
    }
  }

  if (options.banner) printBanner(platform, url);
  return { app, platform, config, url, close };
}

function printBanner(platform: Platform, url: string): void {
  const lines = [
    "",
    `mlops-platform is running at ${url}`,
    `  database:  ${platform.store.location}`,
    `  data dir:  ${platform.config.dataDir}`,
    `  API docs:  ${url}/docs`,
  ];
  if (platform.initialAdminToken) {
    lines.push(
      // Never the token itself: banners end up in log collectors (docs/security.md).
      `  admin token: generated; saved, readable only by you (0600), in ${platform.adminTokenFile}`,
      `  log in:    npx mlops login --url ${url} --token "$(cat ${platform.adminTokenFile})"`,
    );
  } else if (platform.config.adminToken) {
    lines.push("  admin token: the one given in MLOPS_ADMIN_TOKEN");
  } else {
    lines.push(
      `  admin token: created on first start; see ${platform.config.dataDir}/admin-token if it was generated`,
    );
  }
  process.stdout.write(`${lines.join("\n")}\n\n`);
}
