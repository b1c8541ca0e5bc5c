/**
 * The `forja` CLI. Talks to the server only through the public API (src/client/).
 * Exit codes: 0 ok, 1 error, 2 bad input/usage, 3 not allowed, 4 not found,
 * 5 conflict, 6 server unreachable.
 */
import { readFileSync } from "node:fs";
import { Command, CommanderError } from "commander";
import type { Env } from "../platform/config.ts";
import { VERSION } from "../server/version.ts";
import { registerAuthCommands } from "./commands/auth.ts";
import { registerResourceCommands } from "./commands/resources.ts";
import { registerUp } from "./commands/up.ts";
import { createCliContext } from "./context.ts";
import { ExitCode, exitCodeFor, formatError, type Io } from "./output.ts";

export interface CliPlugin {
  register(program: Command, ctx: ReturnType<typeof createCliContext>, run: (p: Promise<number>) => void): void;
}

const plugins: CliPlugin[] = [];
/** Feature modules add their commands (run, logs, experiments, ...) here. */
export function addCliPlugin(p: CliPlugin): void {
  plugins.push(p);
}

export async function main(argv: string[], io?: Io, env: Env = process.env): Promise<number> {
  const out: Io = io ?? {
    out: (t) => process.stdout.write(`${t}\n`),
    err: (t) => process.stderr.write(`${t}\n`),
    isTTY: process.stdout.isTTY === true,
  };
  const ctx = createCliContext(out, env);
  let pending: Promise<number> | undefined;
  const run = (p: Promise<number>) => {
    pending = p;
  };
  const stdin = () => readFileSync(0, "utf8");

  const program = new Command("forja")
    .description("Forja: pipelines, tracking, registry, serving and monitoring as declarative resources")
    .version(VERSION)
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => out.out(s.trimEnd()), writeErr: (s) => out.err(s.trimEnd()) })
    .addHelpText("after", "\nExit codes: 0 ok, 1 error, 2 bad input, 3 not allowed, 4 not found, 5 conflict, 6 server unreachable.");

  registerUp(program, ctx, run);
  registerResourceCommands(program, ctx, run, stdin);
  registerAuthCommands(program, ctx, run, stdin);
  const { registerFeatureCommands } = await import("./features.ts");
  registerFeatureCommands(program, ctx, run, stdin);
  for (const p of plugins) p.register(program, ctx, run);

  try {
    await program.parseAsync(argv);
    return pending ? await pending : ExitCode.Ok;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    out.err(formatError(e));
    return exitCodeFor(e);
  }
}
