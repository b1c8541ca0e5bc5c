/**
 * forja top: live serving and pipeline figures from the server's /metrics (admin token) for
 * users without Grafana. Rates and quantiles come from the deltas between two scrapes.
 */
import type { Command } from "commander";
import { parseDuration } from "../../loadtest/report.ts";
import { parsePrometheusText } from "../../loadtest/prometheus.ts";
import { computeTop, formatTop, type Scrape, type TopSnapshot } from "../../loadtest/top.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { Resource } from "../../resources/model.ts";
import type { CliContext } from "../context.ts";
import { ExitCode, toJson } from "../output.ts";

type Run = (p: Promise<number>) => void;

interface Opts {
  interval: string;
  once?: boolean;
  output: string;
}

async function scrape(ctx: CliContext): Promise<Scrape> {
  const res = await ctx.client().raw("GET", "/metrics");
  const text = await res.text();
  return { at: Date.now(), families: parsePrometheusText(text) };
}

async function activeRuns(ctx: CliContext): Promise<number | null> {
  try {
    const runs = await ctx.client().listAll("pipelineruns");
    return runs.filter((r: Resource) => {
      const phase = (r.status as { phase?: string } | undefined)?.phase;
      return phase === undefined || phase === "Pending" || phase === "Running";
    }).length;
  } catch {
    return null;
  }
}

const sleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => (clearTimeout(t), resolve()), { once: true });
  });

export function registerTopCommand(program: Command, ctx: CliContext, run: Run): void {
  program
    .command("top")
    .description("live per-deployment RPS, errors, latency quantiles and in-flight, and pipeline runs, from /metrics (admin token)")
    .option("-i, --interval <time>", "refresh interval (also the window of the rates)", "2s")
    .option("--once", "print one snapshot (two scrapes one interval apart; --interval 0: since the server started) and exit")
    .option("-o, --output <format>", "table|json", "table")
    .action((opts: Opts) =>
      run(
        (async () => {
          if (opts.output !== "table" && opts.output !== "json") throw InvalidInputError.field("-o", "must be table or json");
          const intervalMs = opts.interval.trim() === "0" ? 0 : parseDuration(opts.interval);
          if (intervalMs === undefined || (intervalMs <= 0 && !opts.once)) throw InvalidInputError.field("--interval", `"${opts.interval}" is not a positive duration (e.g. 2s)`);
          const show = (s: TopSnapshot) => (opts.output === "json" ? toJson(s) : formatTop(s));
          const snapshot = async (cur: Scrape, prev?: Scrape) => {
            const s = computeTop(cur, prev);
            s.pipelines.active = await activeRuns(ctx);
            return s;
          };

          if (opts.once) {
            const first = await scrape(ctx);
            let prev: Scrape | undefined;
            let cur = first;
            if (intervalMs > 0) {
              await new Promise((r) => setTimeout(r, intervalMs));
              prev = first;
              cur = await scrape(ctx);
            }
            ctx.io.out(show(await snapshot(cur, prev)));
            return ExitCode.Ok;
          }

          const ac = new AbortController();
          const onSigint = () => ac.abort();
          process.once("SIGINT", onSigint);
          try {
            let prev = await scrape(ctx);
            if (ctx.io.isTTY) process.stdout.write(`\x1b[H\x1b[2J${show(await snapshot(prev))}\n`);
            while (!ac.signal.aborted) {
              await sleep(intervalMs, ac.signal);
              if (ac.signal.aborted) break;
              const cur = await scrape(ctx);
              const text = show(await snapshot(cur, prev));
              if (ctx.io.isTTY) process.stdout.write(`\x1b[H\x1b[2J${text}\n`);
              else ctx.io.out(`${text}\n`);
              prev = cur;
            }
          } finally {
            process.removeListener("SIGINT", onSigint);
          }
          return ExitCode.Ok;
        })(),
      ),
    );
}
