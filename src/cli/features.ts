/** Commands contributed by feature modules (pipelines, tracking, ...). */
import type { Command } from "commander";
import { registerPipelineCommands } from "./commands/pipelines.ts";
import type { CliContext } from "./context.ts";

export function registerFeatureCommands(program: Command, ctx: CliContext, run: (p: Promise<number>) => void, _stdin: () => string): void {
  registerPipelineCommands(program, ctx, run);
}
