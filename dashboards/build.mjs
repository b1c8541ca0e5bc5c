// Generates dashboards/forja.json (Grafana, importable as is): `node dashboards/build.mjs`.
// Metric and label names must be the ones src/ exports: test/loadtest/dashboard.test.ts checks.
import { writeFileSync } from "node:fs";
const ds = { type: "prometheus", uid: "${DS_PROMETHEUS}" };
const D = 'project=~"$project",deployment=~"$deployment"';
const P = 'project=~"$project"';
let id = 0;
let y = 0;
const panels = [];
const row = (title) => { panels.push({ type: "row", title, id: ++id, collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, panels: [] }); y += 1; };
let x = 0;
const panel = (title, targets, o = {}) => {
  const w = o.w ?? 8, h = o.h ?? 8;
  if (x + w > 24) { x = 0; y += h; }
  panels.push({
    type: o.type ?? "timeseries", title, id: ++id, datasource: ds, description: o.description ?? "",
    gridPos: { h, w, x, y },
    fieldConfig: { defaults: { unit: o.unit ?? "short", ...(o.min !== undefined ? { min: o.min } : {}), custom: o.type && o.type !== "timeseries" ? {} : { drawStyle: "line", lineWidth: 1, fillOpacity: 10, showPoints: "never" } }, overrides: [] },
    options: o.type === "stat" ? { reduceOptions: { calcs: ["lastNotNull"], fields: "", values: false }, colorMode: "value", graphMode: "none", textMode: "auto" } : { legend: { displayMode: "table", placement: "bottom", calcs: ["mean", "max", "lastNotNull"] }, tooltip: { mode: "multi", sort: "desc" } },
    targets: targets.map(([expr, legendFormat], i) => ({ datasource: ds, refId: String.fromCharCode(65 + i), expr, legendFormat, range: true })),
  });
  x += w;
  if (x >= 24) { x = 0; y += h; }
};
const endRow = () => { if (x > 0) { x = 0; y += 8; } };
const q = (p, metric, sel, by = "") => `histogram_quantile(${p}, sum by (le${by ? `, ${by}` : ""}) (rate(${metric}_bucket${sel ? `{${sel}}` : ""}[$__rate_interval])))`;

row("Serving");
panel("Requests per second by status", [[`sum by (status) (rate(forja_inference_requests_total{${D}}[$__rate_interval]))`, "{{status}}"]], { unit: "reqps", description: "Inference requests answered, by HTTP status (429 = rate limited)." });
panel("Error rate (4xx + 5xx)", [[`sum by (deployment) (rate(forja_inference_requests_total{${D},status=~"[45].."}[$__rate_interval])) / sum by (deployment) (rate(forja_inference_requests_total{${D}}[$__rate_interval]))`, "{{deployment}}"]], { unit: "percentunit", min: 0 });
panel("Latency p50 / p95 / p99", [
  [q(0.5, "forja_inference_request_duration_seconds", D), "p50"],
  [q(0.95, "forja_inference_request_duration_seconds", D), "p95"],
  [q(0.99, "forja_inference_request_duration_seconds", D), "p99"],
], { unit: "s", description: "histogram_quantile over forja_inference_request_duration_seconds (all selected deployments)." });
panel("p95 latency by deployment and version", [[q(0.95, "forja_inference_request_duration_seconds", D, "deployment, version"), "{{deployment}} v{{version}}"]], { unit: "s" });
panel("Requests per second by deployment and version", [[`sum by (deployment, version) (rate(forja_inference_requests_total{${D}}[$__rate_interval]))`, "{{deployment}} v{{version}}"]], { unit: "reqps", description: "Canary split: the share of each served version." });
panel("In-flight requests", [[`sum by (deployment) (forja_inference_in_flight_requests{${D}})`, "{{deployment}}"]], { unit: "short", min: 0 });
panel("Batch size (adaptive batching)", [
  [`sum by (deployment) (rate(forja_inference_batch_size_sum{${D}}[$__rate_interval])) / sum by (deployment) (rate(forja_inference_batch_size_count{${D}}[$__rate_interval]))`, "{{deployment}} mean"],
  [q(0.95, "forja_inference_batch_size", D, "deployment"), "{{deployment}} p95"],
], { unit: "short", min: 0 });
panel("Shadow requests by result", [[`sum by (deployment, version, result) (rate(forja_inference_shadow_requests_total{${D}}[$__rate_interval]))`, "{{deployment}} v{{version}} {{result}}"]], { unit: "reqps" });
panel("Shadow latency p95", [[q(0.95, "forja_inference_shadow_duration_seconds", D, "deployment, version"), "{{deployment}} v{{version}}"]], { unit: "s" });
panel("Deployments ready", [[`sum(forja_deployment_ready{${D}})`, "ready"], [`count(forja_deployment_ready{${D}})`, "total"]], { type: "stat", w: 6 });
panel("Model load time p95", [[q(0.95, "forja_model_load_duration_seconds", D, "deployment, result"), "{{deployment}} {{result}}"]], { unit: "s", w: 9 });
panel("Model loads per minute by result", [[`sum by (result) (rate(forja_model_load_duration_seconds_count{${D}}[$__rate_interval])) * 60`, "{{result}}"]], { unit: "short", w: 9 });
endRow();

row("Drift");
panel("Feature drift score", [[`max by (deployment, version, feature, method) (forja_feature_drift_score{${D}})`, "{{deployment}} v{{version}} {{feature}} ({{method}})"]], { unit: "short", w: 12, description: "Per-feature drift score of the payload log vs the version's reference: the p-value for ks/chisquare/z (drift when < 0.05), the distance otherwise (drift when >= 0.1)." });
panel("Share of drifting features", [[`max by (deployment, version) (forja_dataset_drift_share{${D}})`, "{{deployment}} v{{version}}"]], { unit: "percentunit", min: 0, w: 6 });
panel("Dataset drift", [[`max by (deployment) (forja_dataset_drift{${D}})`, "{{deployment}}"]], { type: "stat", w: 6, description: "1 when at least half of the features drift." });
panel("Payload log rows per second", [[`sum by (deployment) (rate(forja_payload_log_rows_total{${D}}[$__rate_interval]))`, "{{deployment}} logged"], [`sum by (deployment) (rate(forja_payload_log_dropped_rows_total{${D}}[$__rate_interval]))`, "{{deployment}} dropped"]], { unit: "short", w: 24 });
endRow();

row("Pipelines");
panel("Pipeline runs ended by phase", [[`sum by (phase) (increase(forja_pipeline_runs_total{${P}}[$__rate_interval]))`, "{{phase}}"]], { unit: "short", type: "timeseries" });
panel("Pipeline run duration p50 / p95", [
  [q(0.5, "forja_pipeline_run_duration_seconds", P, "pipeline"), "{{pipeline}} p50"],
  [q(0.95, "forja_pipeline_run_duration_seconds", P, "pipeline"), "{{pipeline}} p95"],
], { unit: "s" });
panel("Pipeline steps by phase (cached or executed)", [[`sum by (phase, cached) (increase(forja_pipeline_steps_total{${P}}[$__rate_interval]))`, "{{phase}} cached={{cached}}"]], { unit: "short" });
panel("Step duration p95 (executed steps)", [[q(0.95, "forja_pipeline_step_duration_seconds", P, "phase"), "{{phase}}"]], { unit: "s" });
panel("Runs succeeded / failed in range", [
  [`sum(increase(forja_pipeline_runs_total{${P},phase="Succeeded"}[$__range]))`, "succeeded"],
  [`sum(increase(forja_pipeline_runs_total{${P},phase="Failed"}[$__range]))`, "failed"],
], { type: "stat" });
endRow();

row("Controllers");
panel("Reconcile errors per second", [[`sum by (controller) (rate(forja_controller_reconcile_total{result="error"}[$__rate_interval]))`, "{{controller}}"]], { unit: "short", min: 0 });
panel("Reconcile duration p95", [[q(0.95, "forja_controller_reconcile_duration_seconds", "", "controller"), "{{controller}}"]], { unit: "s" });
panel("Work queue depth", [[`sum by (controller) (forja_controller_queue_depth)`, "{{controller}}"]], { unit: "short", min: 0 });
endRow();

const variable = (name, label, query) => ({
  name, label, type: "query", datasource: ds, query: { query, refId: `${name}-var` }, definition: query,
  refresh: 2, includeAll: true, multi: true, allValue: ".*", current: { selected: true, text: ["All"], value: ["$__all"] }, sort: 1, hide: 0, options: [],
});

const dash = {
  __inputs: [{ name: "DS_PROMETHEUS", label: "Prometheus", description: "The Prometheus that scrapes Forja's /metrics", type: "datasource", pluginId: "prometheus", pluginName: "Prometheus" }],
  __elements: {},
  __requires: [
    { type: "grafana", id: "grafana", name: "Grafana", version: "10.4.0" },
    { type: "datasource", id: "prometheus", name: "Prometheus", version: "1.0.0" },
    { type: "panel", id: "timeseries", name: "Time series", version: "" },
    { type: "panel", id: "stat", name: "Stat", version: "" },
  ],
  annotations: { list: [{ builtIn: 1, datasource: { type: "grafana", uid: "-- Grafana --" }, enable: true, hide: true, iconColor: "rgba(0, 211, 255, 1)", name: "Annotations & Alerts", type: "dashboard" }] },
  description: "Forja: serving (RPS, errors, latency quantiles, in-flight, batching, shadow), drift, pipelines and controllers.",
  editable: true,
  fiscalYearStartMonth: 0,
  graphTooltip: 1,
  id: null,
  links: [],
  panels,
  refresh: "10s",
  schemaVersion: 39,
  tags: ["forja", "mlops"],
  templating: { list: [variable("project", "Project", "label_values(forja_deployment_ready, project)"), variable("deployment", "Deployment", 'label_values(forja_deployment_ready{project=~"$project"}, deployment)')] },
  time: { from: "now-1h", to: "now" },
  timepicker: {},
  timezone: "browser",
  title: "Forja",
  uid: "forja-overview",
  version: 1,
  weekStart: "",
};
const json = JSON.stringify(dash, null, 2) + "\n";
if (process.argv.includes("--stdout")) process.stdout.write(json);
else {
  writeFileSync(new URL("./forja.json", import.meta.url), json);
  console.log(`dashboards/forja.json: ${panels.length} panels`);
}
