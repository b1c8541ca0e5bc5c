/**
 * forja loadtest <deployment|URL>: closed-loop virtual users against a deployment's OIP
 * endpoint (input example from the model metadata, the CLI's token) or any URL; live
 * progress, a final report, --csv/--json, and CI thresholds (--fail-on → exit 1).
 */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { readClientConfig } from "../../client/config.ts";
import { runLoadTest, type LoadTestProgress } from "../../loadtest/engine.ts";
import { formatReport, parseDuration, progressLine, toCsv } from "../../loadtest/report.ts";
import { contentTypeOf, deploymentTarget, type HttpTarget } from "../../loadtest/target.ts";
import { evaluateThresholds, parseThresholds } from "../../loadtest/thresholds.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { CliContext } from "../context.ts";
import { ExitCode, toJson } from "../output.ts";

type Run = (p: Promise<number>) => void;

interface Opts {
  users: string;
  spawnRate?: string;
  duration: string;
  rps?: string;
  requests?: string;
  payload?: string;
  project?: string;
  method?: string;
  header: string[];
  timeout: string;
  csv?: string;
  json?: boolean;
  failOn?: string;
  quiet?: boolean;
}

function num(v: string | undefined, flag: string, int = false): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0 || (int && !Number.isInteger(n))) throw InvalidInputError.field(flag, `must be a positive ${int ? "integer" : "number"}, got "${v}"`);
  return n;
}

function duration(v: string, flag: string): number {
  const ms = parseDuration(v);
  if (ms === undefined || ms <= 0) throw InvalidInputError.field(flag, `"${v}" is not a duration (e.g. 30s, 500ms, 2m)`);
  return ms;
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerLoadtestCommand(program: Command, ctx: CliContext, run: Run): void {
  program
    .command("loadtest")
    .description("load-test a deployment (OIP infer, input example from the model metadata) or a URL")
    .argument("<target>", "deployment name, or an http(s) URL")
    .option("-u, --users <n>", "concurrent virtual users (closed loop)", "10")
    .option("-r, --spawn-rate <n>", "users started per second (default: all within 1 s)")
    .option("-d, --duration <time>", "how long to run: 30s, 2m, 500ms (at most 24 days)", "30s")
    .option("--rps <n>", "global cap on requests per second")
    .option("-n, --requests <n>", "stop after this many requests (default 10,000,000)")
    .option("--payload <file>", "request body (JSON, or binary as application/octet-stream)")
    .option("-p, --project <project>", "project of the deployment (default from config)")
    .option("-X, --method <method>", "HTTP method for a URL (default: POST with a payload, else GET)")
    .option("-H, --header <header>", "extra header 'Name: value' (repeatable)", collect, [])
    .option("--timeout <time>", "per-request timeout", "10s")
    .option("--csv <file>", "write Locust-style stats CSV there (and <file>_failures.csv)")
    .option("--json", "print the report as JSON on stdout")
    .option("--fail-on <thresholds>", "exit 1 if any holds, e.g. 'p95>50ms,errors>1%,rps<100'")
    .option("-q, --quiet", "no live progress")
    .addHelpText(
      "after",
      "\nExit codes: 0 ok; 1 a --fail-on threshold was violated (each is listed), or no request succeeded; 2 bad input.",
    )
    .action((target: string, opts: Opts) => run(loadtest(ctx, target, opts)));
}

async function loadtest(ctx: CliContext, target: string, opts: Opts): Promise<number> {
  const users = num(opts.users, "--users", true)!;
  const spawnRate = num(opts.spawnRate, "--spawn-rate");
  const rps = num(opts.rps, "--rps");
  const maxRequests = num(opts.requests, "--requests", true);
  const durationMs = duration(opts.duration, "--duration");
  const timeoutMs = duration(opts.timeout, "--timeout");
  const thresholds = opts.failOn !== undefined ? parseThresholds(opts.failOn) : [];
  let payload: Buffer | undefined;
  if (opts.payload) {
    try {
      payload = readFileSync(opts.payload);
    } catch (e) {
      throw InvalidInputError.field("--payload", `cannot read ${opts.payload}: ${(e as Error).message}`);
    }
  }
  const extra: Record<string, string> = {};
  for (const h of opts.header) {
    const i = h.indexOf(":");
    if (i <= 0) throw InvalidInputError.field("--header", `"${h}" is not 'Name: value'`);
    extra[h.slice(0, i).trim().toLowerCase()] = h.slice(i + 1).trim();
  }

  let t: HttpTarget;
  if (/^https?:\/\//i.test(target)) {
    const headers: Record<string, string> = payload ? { "content-type": contentTypeOf(payload) } : {};
    t = { url: target, method: (opts.method ?? (payload ? "POST" : "GET")).toUpperCase(), headers, ...(payload ? { body: payload } : {}), name: new URL(target).pathname };
  } else {
    const token = ctx.env.FORJA_TOKEN || readClientConfig(ctx.configPath)?.token;
    t = await deploymentTarget(ctx.client(), {
      project: ctx.project(opts.project),
      deployment: target,
      ...(token ? { token } : {}),
      ...(payload ? { payload } : {}),
    });
    if (opts.method) t = { ...t, method: opts.method.toUpperCase() };
  }

  const io = ctx.io;
  const live = !opts.quiet;
  let lastLine = 0;
  const onProgress = (p: LoadTestProgress) => {
    if (!live) return;
    if (io.isTTY) {
      process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
    } else if (p.elapsedMs - lastLine >= 5000 - 100) {
      lastLine = p.elapsedMs;
      io.err(progressLine(p));
    }
  };
  if (live && !opts.json) io.err(`load-testing ${t.method} ${t.url} with ${users} users for ${opts.duration}${rps ? ` (≤ ${rps} req/s)` : ""}…`);

  const ac = new AbortController();
  const onSigint = () => ac.abort();
  process.once("SIGINT", onSigint);
  let report;
  try {
    report = await runLoadTest(
      {
        url: t.url,
        method: t.method,
        headers: { ...t.headers, ...extra },
        ...(t.body !== undefined ? { body: t.body } : {}),
        users,
        ...(spawnRate !== undefined ? { spawnRate } : {}),
        durationMs,
        ...(maxRequests !== undefined ? { maxRequests } : {}),
        ...(rps !== undefined ? { rps } : {}),
        timeoutMs,
        name: t.name,
        signal: ac.signal,
      },
      onProgress,
    );
  } finally {
    process.removeListener("SIGINT", onSigint);
    if (live && io.isTTY) process.stderr.write("\r\x1b[2K");
  }

  const results = evaluateThresholds(report, thresholds);
  if (opts.csv) {
    const csv = toCsv(report);
    writeFileSync(opts.csv, csv.stats);
    writeFileSync(opts.csv.replace(/(\.csv)?$/i, "_failures.csv"), csv.failures);
  }
  if (opts.json) {
    io.out(toJson({ ...report, thresholds: results.map((r) => ({ threshold: r.threshold.source, actual: r.actual, violated: r.violated })) }));
  } else {
    io.out(formatReport(report, results));
  }
  const violated = results.filter((r) => r.violated);
  if (violated.length) {
    io.err(`error: ${violated.length} threshold${violated.length > 1 ? "s" : ""} violated: ${violated.map((r) => `${r.threshold.source} (actual ${r.actual})`).join("; ")}`);
    return ExitCode.Error;
  }
  if (report.requests > 0 && report.successes === 0) {
    io.err(`error: no request succeeded (${report.errors.map((e) => `${e.type} ×${e.count}`).join(", ")})`);
    return ExitCode.Error;
  }
  if (report.requests === 0) {
    io.err("error: no request completed");
    return ExitCode.Error;
  }
  return ExitCode.Ok;
}
