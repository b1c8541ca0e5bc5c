#!/usr/bin/env node
// Entry point of the `forja` CLI. Runs the TypeScript sources through tsx's loader,
// so a fresh clone needs only `npm ci` — no build step.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
