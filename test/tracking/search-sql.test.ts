/**
 * runs/search in SQL vs the in-memory evaluator (src/tracking/search/evaluate.ts) on a generated
 * corpus, on SQLite and PostgreSQL; plus concurrent logging to one run.
 */
import { afterAll, beforeAll, expect, it } from "vitest";
import { compareRuns, matchesRun, parseOrderBy, parseRunFilter, type RunView } from "../../src/tracking/search/index.ts";
import { forEachEngine } from "../support/databases.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { dbUrl, mlflowClient, type MlflowTestClient } from "./helpers.ts";

function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (x * 1664525 + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}

interface WireRun {
  info: { run_id: string; run_name: string; status: string; start_time: number; end_time?: number; artifact_uri: string; lifecycle_stage: string; user_id: string; experiment_id: string };
  data: { metrics?: { key: string; value: number | string }[]; params?: { key: string; value: string }[]; tags?: { key: string; value: string }[] };
  inputs?: { dataset_inputs?: { tags?: { key: string; value: string }[]; dataset: { name: string; digest: string } }[] };
}

function toView(r: WireRun): RunView {
  const num = (v: number | string) => (v === "NaN" ? NaN : v === "Infinity" ? Infinity : v === "-Infinity" ? -Infinity : Number(v));
  return {
    info: { ...r.info, end_time: r.info.end_time ?? null },
    latestMetrics: Object.fromEntries((r.data.metrics ?? []).map((m) => [m.key, num(m.value)])),
    params: Object.fromEntries((r.data.params ?? []).map((p) => [p.key, p.value])),
    tags: Object.fromEntries((r.data.tags ?? []).map((t) => [t.key, t.value])),
    datasets: (r.inputs?.dataset_inputs ?? []).map((d) => ({ name: d.dataset.name, digest: d.dataset.digest, context: d.tags?.find((t) => t.key === "mlflow.data.context")?.value ?? null })),
  };
}

const FILTERS = [
  "",
  "metrics.acc > 0.5",
  "metrics.acc <= 0.5",
  "metrics.acc != 0.3",
  "metrics.acc = 0.25",
  "metrics.`val loss` < 1",
  'metrics."val loss" >= 0.5 AND params.model = \'lr\'',
  "metrics.acc > -1 AND metrics.loss < 2",
  "params.model = 'lr'",
  "params.model != 'lr'",
  "params.model LIKE 'r%'",
  "params.model LIKE '%F'",
  "params.model ILIKE '%f'",
  "params.`opt.name` LIKE 'a_am'",
  "tags.team = 'Vision'",
  "tags.team ILIKE 'vision'",
  "tags.team LIKE 'V%'",
  "tags.`mlflow.runName` LIKE 'run-1%'",
  'tags."mlflow.runName" = \'run-7\'',
  "attributes.status = 'FINISHED'",
  "attributes.status != 'RUNNING'",
  "run_name LIKE 'run-2%'",
  "attributes.start_time > 1700000000040",
  "attributes.end_time < 1700000100050",
  "created >= 1700000000010 AND metrics.acc > 0.2",
  "attributes.user_id ILIKE 'ALICE'",
  "dataset.name = 'iris'",
  "dataset.context IN ('train', 'eval')",
  "dataset.digest NOT IN ('d1')",
  "params.lr IS NULL",
  "tags.team IS NOT NULL",
];
const ORDERS: string[][] = [
  [],
  ["metrics.acc DESC"],
  ["metrics.acc ASC"],
  ["metrics.`val loss` DESC", "params.model ASC"],
  ["params.model DESC"],
  ["tags.team ASC", "metrics.loss DESC"],
  ["attributes.start_time ASC"],
  ["attributes.end_time DESC"],
  ["run_name DESC"],
  ["created DESC"],
  ["attributes.status ASC", "metrics.acc ASC"],
];

forEachEngine(
  (engine, db) => {
    let s: TestServer;
    let c: MlflowTestClient;
    let exp: string;
    let all: RunView[];
    beforeAll(async () => {
      s = await startTestServer({ databaseUrl: dbUrl(db()) });
      c = mlflowClient(s);
      exp = (await c.ok("POST", "experiments/create", { name: "corpus" }))["experiment_id"] as string;
      const r = rng(engine === "sqlite" ? 7 : 11);
      const models = ["lr", "rf", "RF", "xgb", "Rf_2", "a%b"];
      const teams = ["vision", "Vision", "nlp", "VISION"];
      for (let i = 0; i < 70; i++) {
        const run = (await c.ok("POST", "runs/create", {
          experiment_id: exp,
          run_name: `run-${i}`,
          user_id: r() < 0.5 ? "alice" : "Alice",
          start_time: 1700000000000 + Math.floor(r() * 100),
        }))["run"] as WireRun;
        const id = run.info.run_id;
        const metrics: { key: string; value: number | string; timestamp: number; step: number }[] = [];
        if (r() < 0.85) {
          const pick = r();
          metrics.push({ key: "acc", value: pick < 0.1 ? "NaN" : pick < 0.2 ? 0.25 : Math.round(r() * 100) / 100, timestamp: 1, step: 0 });
        }
        if (r() < 0.7) metrics.push({ key: "val loss", value: Math.round(r() * 200) / 100, timestamp: 1, step: 0 });
        if (r() < 0.7) metrics.push({ key: "loss", value: r() < 0.1 ? "Infinity" : Math.round(r() * 300) / 100, timestamp: 1, step: 0 });
        const params = [];
        if (r() < 0.8) params.push({ key: "model", value: models[Math.floor(r() * models.length)] as string });
        if (r() < 0.5) params.push({ key: "lr", value: String(Math.round(r() * 100) / 1000) });
        if (r() < 0.5) params.push({ key: "opt.name", value: r() < 0.5 ? "adam" : "aXam" });
        const tags = r() < 0.75 ? [{ key: "team", value: teams[Math.floor(r() * teams.length)] as string }] : [];
        await c.ok("POST", "runs/log-batch", { run_id: id, metrics, params, tags });
        if (r() < 0.5) {
          await c.ok("POST", "runs/log-inputs", {
            run_id: id,
            datasets: [{ tags: r() < 0.7 ? [{ key: "mlflow.data.context", value: r() < 0.5 ? "train" : "eval" }] : [], dataset: { name: r() < 0.5 ? "iris" : "wine", digest: r() < 0.5 ? "d1" : "d2", source_type: "local", source: "{}" } }],
          });
        }
        if (r() < 0.6) await c.ok("POST", "runs/update", { run_id: id, status: "FINISHED", end_time: 1700000100000 + Math.floor(r() * 100) });
      }
      const res = await c.ok("POST", "runs/search", { experiment_ids: [exp], max_results: 1000 });
      all = (res["runs"] as WireRun[]).map(toView);
      expect(all.length).toBe(70);
    });
    afterAll(() => s.stop());

    it("every filter × order_by gives the evaluator's runs in the evaluator's order", async () => {
      let checked = 0;
      for (const filter of FILTERS) {
        for (const order of ORDERS) {
          const expected = all
            .filter((v) => matchesRun(parseRunFilter(filter), v))
            .sort(compareRuns(parseOrderBy(order)))
            .map((v) => v.info.run_id);
          const res = await c.ok("POST", "runs/search", { experiment_ids: [exp], filter, order_by: order, max_results: 1000 });
          const got = ((res["runs"] as WireRun[] | undefined) ?? []).map((x) => x.info.run_id);
          expect(got, `filter=${filter} order_by=${JSON.stringify(order)}`).toEqual(expected);
          checked++;
        }
      }
      expect(checked).toBe(FILTERS.length * ORDERS.length);
    });

    it("paging through a filtered, ordered search yields the same sequence", async () => {
      const filter = "metrics.acc > 0.1";
      const order = ["metrics.acc DESC"];
      const expected = all.filter((v) => matchesRun(parseRunFilter(filter), v)).sort(compareRuns(parseOrderBy(order))).map((v) => v.info.run_id);
      const got: string[] = [];
      let token: string | undefined;
      do {
        const res = await c.ok("POST", "runs/search", { experiment_ids: [exp], filter, order_by: order, max_results: 7, ...(token ? { page_token: token } : {}) });
        got.push(...((res["runs"] as WireRun[] | undefined) ?? []).map((x) => x.info.run_id));
        token = res["next_page_token"] as string | undefined;
      } while (token);
      expect(got).toEqual(expected);
    });

    it("two clients logging to one run concurrently lose no metric and keep the latest-metric rule", async () => {
      const id = ((await c.ok("POST", "runs/create", { experiment_id: exp }))["run"] as WireRun).info.run_id;
      const other = mlflowClient(s);
      const points = (client: number) =>
        Array.from({ length: 40 }, (_, b) =>
          Array.from({ length: 25 }, (_, i) => ({ key: `k${i % 5}`, value: client * 1000 + b * 25 + i, timestamp: 1000 + ((b * 7 + client) % 13), step: (b * 3 + i + client) % 17 })),
        );
      const sent = [points(1), points(2)];
      await Promise.all(
        [c, other].map(async (cl, ci) => {
          for (const batch of sent[ci] ?? []) await cl.ok("POST", "runs/log-batch", { run_id: id, metrics: batch });
        }),
      );
      const flat = sent.flat(2);
      for (let k = 0; k < 5; k++) {
        const mine = flat.filter((m) => m.key === `k${k}`);
        const h = await c.ok("GET", "metrics/get-history", { run_id: id, metric_key: `k${k}` });
        expect((h["metrics"] as unknown[]).length).toBe(mine.length);
        const best = mine.reduce((a, b) => (b.step > a.step || (b.step === a.step && (b.timestamp > a.timestamp || (b.timestamp === a.timestamp && b.value > a.value))) ? b : a));
        const run = (await c.ok("GET", "runs/get", { run_id: id }))["run"] as WireRun;
        expect(run.data.metrics?.find((m) => m.key === `k${k}`)).toEqual({ key: best.key, value: best.value, timestamp: best.timestamp, step: best.step });
      }
    });
  },
  { database: "suite" },
);
