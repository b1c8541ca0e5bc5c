#!/usr/bin/env -S node --max-semi-space-size=4
// Entry point of the `forja` CLI. Runs the TypeScript sources through tsx's loader,
// so a fresh clone needs only `npm ci` — no build step.
// --max-semi-space-size=4: a small young generation keeps the server's garbage-collection pauses
// short (ADR 0013). V8 reads it only at startup, hence here and in package.json's scripts; a
// `node --max-semi-space-size=N bin/forja.mjs` of your own takes precedence.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../src/cli/main.ts");
process.exitCode = await main(process.argv);
