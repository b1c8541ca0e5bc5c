/**
 * dashboards/forja.json cannot drift from the code: every metric its PromQL names is exported
 * by src/ (`name: "forja_…"`, histogram suffixes resolved) or listed below as pending; every
 * label it selects on is one of that metric's label names; it imports as is (a ${DS_PROMETHEUS}
 * input, schemaVersion, unique ids); when promtool is installed, every expression parses as
 * PromQL; and it is what dashboards/build.mjs generates.
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const REPO = join(import.meta.dirname, "../..");
const dashboard = JSON.parse(readFileSync(join(REPO, "dashboards/forja.json"), "utf8"));

/** Metrics the dashboard may show before their code lands (name → type and label names); empty now. */
const PENDING: Record<string, { type: string; labels: string[] }> = {};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return p.endsWith(".ts") && !p.endsWith(".test.ts") ? [p] : [];
  });
}

/**
 * Metrics declared in src/: `new Counter|Gauge|Histogram|Summary({ name: "forja_…", …, labelNames: [...] })`,
 * or one of our own classes of those types named like them (`new LatencyHistogram({ … })`).
 */
function exportedMetrics(): Map<string, { type: string; labels: string[] }> {
  const out = new Map<string, { type: string; labels: string[] }>();
  for (const file of sourceFiles(join(REPO, "src"))) {
    const text = readFileSync(file, "utf8");
    const re = /new\s+[A-Z]?[a-zA-Z]*?(Counter|Gauge|Histogram|Summary)\s*(?:<[^>]*>)?\s*\(\s*\{([\s\S]*?)\}\s*\)/g;
    for (let m = re.exec(text); m; m = re.exec(text)) {
      const body = m[2]!;
      const name = /name:\s*"(forja_[a-zA-Z0-9_:]+)"/.exec(body)?.[1];
      if (!name) continue;
      const labels = /labelNames:\s*\[([^\]]*)\]/.exec(body)?.[1] ?? "";
      out.set(name, { type: m[1]!.toLowerCase(), labels: [...labels.matchAll(/"([^"]+)"/g)].map((x) => x[1]!) });
    }
    // Any other declaration style still counts as exported (without label knowledge).
    for (const m of text.matchAll(/name: "(forja_[a-zA-Z0-9_:]+)"/g)) if (!out.has(m[1]!)) out.set(m[1]!, { type: "unknown", labels: [] });
  }
  return out;
}

interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  panels?: Panel[];
  gridPos: { h: number; w: number; x: number; y: number };
}
const allPanels = (ps: Panel[]): Panel[] => ps.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels as Panel[]);
const expressions: string[] = [
  ...panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr)),
  ...(dashboard.templating.list as { query: { query: string } }[]).map((v) => v.query.query),
];

/** metric name → label names selected on it, over all expressions. */
function referenced(): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const expr of expressions) {
    for (const m of expr.matchAll(/\b(forja_[a-zA-Z0-9_:]+)(\{([^}]*)\})?/g)) {
      const set = out.get(m[1]!) ?? new Set<string>();
      out.set(m[1]!, set);
      for (const l of (m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)/g)) set.add(l[1]!);
    }
  }
  return out;
}

describe("dashboards/forja.json", () => {
  const exported = exportedMetrics();

  it("finds the code's metrics (sanity of the scan)", () => {
    for (const n of ["forja_inference_requests_total", "forja_inference_request_duration_seconds", "forja_pipeline_runs_total", "forja_controller_reconcile_total"]) {
      expect(exported.has(n), n).toBe(true);
    }
    expect(exported.get("forja_inference_requests_total")!.labels).toEqual(["project", "deployment", "version", "status"]);
  });

  it("references only metrics the code exports, with their own label names", () => {
    const refs = referenced();
    expect(refs.size).toBeGreaterThan(10);
    const problems: string[] = [];
    for (const [name, labels] of refs) {
      let base = name;
      let def = exported.get(name) ?? PENDING[name];
      for (const suffix of ["_bucket", "_sum", "_count"]) {
        if (def || !name.endsWith(suffix)) continue;
        base = name.slice(0, -suffix.length);
        def = exported.get(base) ?? PENDING[base];
        if (def && def.type !== "histogram" && def.type !== "summary" && def.type !== "unknown") problems.push(`${name}: ${base} is a ${def.type}, it has no ${suffix}`);
        if (suffix === "_bucket" && def?.type === "summary") problems.push(`${name}: summaries have no buckets`);
      }
      if (!def) {
        problems.push(`${name}: no such metric in src/ (grep 'name: "${base}"')`);
        continue;
      }
      if (def.type === "histogram" && base === name) problems.push(`${name}: a histogram is queried through _bucket/_sum/_count`);
      if (def.type === "unknown") continue;
      const allowed = new Set([...def.labels, ...(name.endsWith("_bucket") ? ["le"] : [])]);
      for (const l of labels) if (!allowed.has(l)) problems.push(`${name}: selects on label "${l}", which it does not have (${[...allowed].join(", ")})`);
    }
    expect(problems).toEqual([]);
  });

  it("shows the figures the issue asks for", () => {
    const all = expressions.join("\n");
    for (const m of [
      "forja_inference_requests_total",
      "forja_inference_request_duration_seconds_bucket",
      "forja_inference_in_flight_requests",
      "forja_inference_batch_size",
      "forja_feature_drift_score",
      "forja_dataset_drift_share",
      "forja_pipeline_run_duration_seconds_bucket",
      "forja_pipeline_steps_total",
      "forja_controller_reconcile_total",
    ]) {
      expect(all).toContain(m);
    }
    for (const q of ["0.5", "0.95", "0.99"]) expect(all).toContain(`histogram_quantile(${q}, sum by (le`);
    expect(all).toMatch(/status=~"\[45\]\.\."/);
  });

  it("imports as is: a ${DS_PROMETHEUS} input, schemaVersion, every panel on it, unique ids and a layout", () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: "DS_PROMETHEUS", type: "datasource", pluginId: "prometheus" })]);
    expect(dashboard.schemaVersion).toBeGreaterThanOrEqual(36);
    expect(dashboard.uid).toBe("forja-overview");
    expect(dashboard.id).toBeNull();
    const ids = panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of panels) {
      expect(p.gridPos.w, p.title).toBeGreaterThan(0);
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      if (p.type === "row") continue;
      expect(p.datasource, p.title).toEqual({ type: "prometheus", uid: "${DS_PROMETHEUS}" });
      expect(p.targets?.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets ?? []) expect(t.datasource?.uid).toBe("${DS_PROMETHEUS}");
    }
    expect(JSON.stringify(dashboard)).not.toMatch(/"uid":\s*"(?!\$\{DS_PROMETHEUS\}|forja-overview|-- Grafana --)[^"]*"/);
  });

  it("is what dashboards/build.mjs generates (edit the script, then run it)", () => {
    const out = execFileSync(process.execPath, [join(REPO, "dashboards/build.mjs"), "--stdout"], { encoding: "utf8" });
    expect(out).toBe(readFileSync(join(REPO, "dashboards/forja.json"), "utf8"));
  });

  const promtool = ["/usr/bin/promtool", "/usr/local/bin/promtool"].find((p) => existsSync(p));
  it.skipIf(!promtool)("every expression is valid PromQL (promtool check rules, Grafana variables substituted)", () => {
    const dir = mkdtempSync(join(tmpdir(), "forja-dash-"));
    try {
      const exprs = expressions
        .filter((e) => !e.startsWith("label_values("))
        .map((e) => e.replaceAll("$__rate_interval", "5m").replaceAll("$__range", "1h").replaceAll("$project", ".*").replaceAll("$deployment", ".*"));
      const rules = { groups: [{ name: "dashboard", rules: exprs.map((expr, i) => ({ record: `forja:dashboard_expr_${i}`, expr })) }] };
      const file = join(dir, "rules.json");
      writeFileSync(file, JSON.stringify(rules)); // JSON is YAML
      const out = execFileSync(promtool!, ["check", "rules", file], { encoding: "utf8" });
      expect(out).toMatch(new RegExp(`SUCCESS: ${exprs.length} rules found`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
