/** Commands contributed by feature modules (pipelines, tracking, ...). */
import type { Command } from "commander";
import type { CliContext } from "./context.ts";

export function registerFeatureCommands(_program: Command, _ctx: CliContext, _run: (p: Promise<number>) => void, _stdin: () => string): void {}
