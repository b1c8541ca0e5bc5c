/** `forja up`: the embedded platform in the foreground. */
import type { Command } from "commander";
import { loadServerConfig, type LogLevel } from "../../platform/config.ts";
import type { CliContext } from "../context.ts";

interface UpOptions {
  dataDir?: string;
  host?: string;
  port?: string;
  databaseUrl?: string;
  logLevel?: string;
  writeConfig: boolean;
}

export function registerUp(program: Command, ctx: CliContext, setExit: (p: Promise<number>) => void): void {
  program
    .command("up")
    .description("run the embedded platform in the foreground (SQLite, local processes, files on disk)")
    .option("--data-dir <dir>", "where data lives (default ./.forja, or FORJA_DATA_DIR)")
    .option("--host <host>", "address to listen on (default 127.0.0.1, or FORJA_HOST)")
    .option("--port <port>", "port to listen on (default 8080, or FORJA_PORT; 0 = any free port)")
    .option("--database-url <url>", "sqlite:PATH or postgres://... (default: SQLite in the data dir)")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace|silent")
    .option("--no-write-config", "do not write the local CLI config")
    .action((opts: UpOptions) => {
      setExit(up(ctx, opts));
    });
}

async function up(ctx: CliContext, opts: UpOptions): Promise<number> {
  const port = opts.port === undefined ? undefined : Number(opts.port);
  const config = loadServerConfig(ctx.env, {
    ...(opts.dataDir ? { dataDir: opts.dataDir } : {}),
    ...(opts.host ? { host: opts.host } : {}),
    ...(port !== undefined ? { port } : {}),
    ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
    ...(opts.logLevel ? { logLevel: opts.logLevel as LogLevel } : {}),
    writeClientConfig: opts.writeConfig,
  });
  // Imported here, not at the top: loading the server takes about a second, which every
  // other command (get, apply, ...) would otherwise pay at startup.
  const { createPlatform } = await import("../../server/platform.ts");
  const { ensureLocalClientConfig } = await import("../../server/bootstrap.ts");
  const platform = await createPlatform(config);
  let url: string;
  try {
    url = await platform.start();
  } catch (e) {
    await platform.stop();
    throw e;
  }
  if (config.clientConfigPath) {
    const what = await ensureLocalClientConfig(platform.ctx, config.clientConfigPath);
    ctx.io.err(`forja: CLI config ${what === "kept" ? "is current" : "written"}: ${config.clientConfigPath}`);
  }
  ctx.io.err(`forja: up at ${url}  (data: ${config.dataDir})  — Ctrl-C to stop`);
  ctx.io.err(`forja: try 'npx forja get projects' in another terminal`);
  return new Promise<number>((resolve) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      ctx.io.err(`forja: ${signal}: shutting down`);
      const force = setTimeout(() => resolve(1), 15_000);
      force.unref();
      platform.stop().then(
        () => resolve(0),
        () => resolve(1),
      );
    };
    process.once("SIGINT", () => stop("SIGINT"));
    process.once("SIGTERM", () => stop("SIGTERM"));
  });
}
