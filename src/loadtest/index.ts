/**
 * Load testing (`forja loadtest`): the engine is reusable from code —
 * `runLoadTest(options, onProgress?) → Promise<Report>`.
 */
export { classifyError, runLoadTest } from "./engine.ts";
export type { LoadTestError, LoadTestOptions, LoadTestProgress, LoadTestReport, Report, StopReason } from "./engine.ts";
export type { LatencySummary } from "./histogram.ts";
