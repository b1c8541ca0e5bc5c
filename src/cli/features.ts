/** Commands contributed by feature modules (pipelines, tracking, ...). */
import type { Command } from "commander";
import { registerModelCommands } from "./commands/models.ts";
import { registerPipelineCommands } from "./commands/pipelines.ts";
import { registerQuickstart } from "./commands/quickstart.ts";
import { registerTrackingCommands } from "./commands/tracking.ts";
import { registerLoadtestCommand } from "./commands/loadtest.ts";
import { registerTopCommand } from "./commands/top.ts";
import { registerDriftCommand } from "./commands/drift.ts";
import type { CliContext } from "./context.ts";

export function registerFeatureCommands(program: Command, ctx: CliContext, run: (p: Promise<number>) => void, _stdin: () => string): void {
  registerPipelineCommands(program, ctx, run);
  registerQuickstart(program, ctx, run);
  registerModelCommands(program, ctx, run);
  registerTrackingCommands(program, ctx, run);
  registerLoadtestCommand(program, ctx, run);
  registerTopCommand(program, ctx, run);
  registerDriftCommand(program, ctx, run);
}
