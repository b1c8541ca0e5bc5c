/**
 * PipelineSchedules on a real server, with a 6-field cron ticking every second: runs start,
 * Forbid skips ticks while a run is active, suspend stops the ticks, history limits prune;
 * who a scheduled run acts as, and what its steps' token may do.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../support/server.ts";
import { applyOk, call, eventually, pipeline, PROJECT, sleep, type Run } from "./support.ts";

let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  await applyOk(s, [
    pipeline("quick", { params: { code: { type: "integer", default: 0 } }, steps: [{ name: "q", command: ["sh", "-c", "exit {{params.code}}"] }] }),
    pipeline("slow", { steps: [{ name: "z", command: ["sleep", "2.5"] }] }),
  ]);
});
afterAll(async () => {
  await s?.stop();
});

interface ScheduleStatus {
  lastScheduleTime?: string;
  nextScheduleTime?: string;
  lastRun?: string;
  active?: string[];
  skipped?: number;
  conditions?: { type: string; status: string; reason?: string }[];
}

function schedule(name: string, spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "forja.dev/v1", kind: "PipelineSchedule", metadata: { name, project: PROJECT }, spec: { schedule: "* * * * * *", ...spec } };
}

async function scheduleStatus(name: string): Promise<ScheduleStatus> {
  return (await call<{ status: ScheduleStatus }>(s, "GET", `/api/v1/projects/${PROJECT}/pipelineschedules/${name}`)).body.status;
}

async function runsOf(name: string): Promise<Run[]> {
  const r = await call<{ items: Run[] }>(s, "GET", `/api/v1/projects/${PROJECT}/pipelineruns?labelSelector=${encodeURIComponent(`forja.dev/schedule=${name}`)}`);
  expect(r.status).toBe(200);
  return r.body.items;
}

const scheduleDoc = (project: string, kind: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: "forja.dev/v1", kind, metadata: { name, project }, spec });

const ended = (r: Run) => ["Succeeded", "Failed", "Cancelled"].includes(r.status.phase);

describe("PipelineSchedule", () => {
  it("starts a run at every tick, named after the tick; suspend stops the ticks", async () => {
    await applyOk(s, [schedule("every-second", { pipelineRef: { name: "quick" }, successfulRunsHistoryLimit: 20 })]);
    const runs = await eventually("3 scheduled runs", async () => {
      const items = await runsOf("every-second");
      return items.length >= 3 ? items : undefined;
    }, 8000);
    for (const r of runs) {
      expect(r.metadata.name).toMatch(/^every-second-\d{10}$/);
      expect(r.spec.pipelineRef?.name).toBe("quick");
    }
    // one run per tick: the names (tick seconds) are distinct and the ticks a second apart
    const ticks = runs.map((r) => Number(r.metadata.name.split("-").pop())).sort();
    expect(new Set(ticks).size).toBe(ticks.length);
    const st = await scheduleStatus("every-second");
    expect(st.conditions?.[0]).toMatchObject({ type: "Ready", status: "True", reason: "Scheduled" });
    expect(Date.parse(st.nextScheduleTime!)).toBeGreaterThan(Date.parse(st.lastScheduleTime!));
    await eventually("the runs to succeed", async () => (await runsOf("every-second")).slice(0, 3).every((r) => r.status.phase === "Succeeded"), 8000);

    await applyOk(s, [schedule("every-second", { pipelineRef: { name: "quick" }, successfulRunsHistoryLimit: 20, suspend: true })]);
    await eventually("the schedule to be suspended", async () => (await scheduleStatus("every-second")).conditions?.[0]?.reason === "Suspended");
    const count = (await runsOf("every-second")).length;
    await sleep(1600); // at least one tick boundary
    expect((await runsOf("every-second")).length).toBe(count);
    expect((await scheduleStatus("every-second")).nextScheduleTime).toBeUndefined();
  });

  it("Forbid: never two runs at once; ticks during a run are skipped and counted", async () => {
    // cache: false, or every run after the first would be an instant cache hit of `sleep 2.5`
    await applyOk(s, [schedule("forbid", { pipelineRef: { name: "slow" }, concurrencyPolicy: "Forbid", cache: false, successfulRunsHistoryLimit: 20 })]);
    const deadline = Date.now() + 5000;
    let maxActive = 0;
    const seen = new Set<string>();
    while (Date.now() < deadline) {
      const runs = await runsOf("forbid");
      for (const r of runs) seen.add(r.metadata.name);
      maxActive = Math.max(maxActive, runs.filter((r) => !ended(r)).length);
      await sleep(100);
    }
    await applyOk(s, [schedule("forbid", { pipelineRef: { name: "slow" }, concurrencyPolicy: "Forbid", suspend: true })]);
    expect(seen.size).toBeGreaterThanOrEqual(1);
    // 5 ticks in 5 s, each run lasts 2.5 s: at most 2 could start
    expect(seen.size).toBeLessThanOrEqual(2);
    expect(maxActive).toBe(1);
    expect((await scheduleStatus("forbid")).skipped).toBeGreaterThanOrEqual(2);
  });

  it("Replace: a tick during a run cancels it and starts a new one", async () => {
    await applyOk(s, [schedule("replace", { pipelineRef: { name: "slow" }, concurrencyPolicy: "Replace", cache: false, successfulRunsHistoryLimit: 20, failedRunsHistoryLimit: 20 })]);
    const runs = await eventually("3 runs", async () => {
      const items = await runsOf("replace");
      return items.length >= 3 ? items : undefined;
    }, 8000);
    await applyOk(s, [schedule("replace", { pipelineRef: { name: "slow" }, concurrencyPolicy: "Replace", cache: false, suspend: true })]);
    // every run but the newest was replaced (cancelled) by the next tick, long before its 2.5 s were up
    const sorted = runs.sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
    for (const r of sorted.slice(0, -1)) {
      const run = await eventually(`${r.metadata.name} to end`, async () => {
        const x = (await call<Run>(s, "GET", `/api/v1/projects/${PROJECT}/pipelineruns/${r.metadata.name}`)).body;
        return ended(x) ? x : undefined;
      }, 5000);
      expect(run.status.phase, r.metadata.name).toBe("Cancelled");
    }
  });

  it("history limits delete the oldest ended runs beyond successfulRunsHistoryLimit / failedRunsHistoryLimit", async () => {
    await applyOk(s, [
      schedule("keep-one", { pipelineRef: { name: "quick" }, successfulRunsHistoryLimit: 1 }),
      schedule("keep-none-failed", { pipelineRef: { name: "quick" }, params: { code: 1 }, failedRunsHistoryLimit: 0 }),
    ]);
    const started = { "keep-one": new Set<string>(), "keep-none-failed": new Set<string>() };
    await eventually("5 ticks of each schedule", async () => {
      for (const name of ["keep-one", "keep-none-failed"] as const) for (const r of await runsOf(name)) started[name].add(r.metadata.name);
      return started["keep-one"].size >= 5 && started["keep-none-failed"].size >= 5;
    }, 12_000);
    await applyOk(s, [
      schedule("keep-one", { pipelineRef: { name: "quick" }, successfulRunsHistoryLimit: 1, suspend: true }),
      schedule("keep-none-failed", { pipelineRef: { name: "quick" }, params: { code: 1 }, failedRunsHistoryLimit: 0, suspend: true }),
    ]);
    // The oldest runs of both are deleted...
    const oldest = (set: Set<string>) => [...set].sort().slice(0, 2);
    for (const name of [...oldest(started["keep-one"]), ...oldest(started["keep-none-failed"])]) {
      await eventually(`${name} to be deleted`, async () => (await call(s, "GET", `/api/v1/projects/${PROJECT}/pipelineruns/${name}`)).status === 404, 5000);
    }
    // ...and at most the limit is left, plus the runs that ended after the last tick's pruning
    // (pruning happens at each tick; the runs of the last two ticks may have ended since).
    const ok = (await runsOf("keep-one")).filter(ended);
    expect(ok.every((r) => r.status.phase === "Succeeded")).toBe(true);
    expect(ok.length).toBeLessThanOrEqual(1 + 2);
    const failed = (await runsOf("keep-none-failed")).filter(ended);
    expect(failed.every((r) => r.status.phase === "Failed")).toBe(true);
    expect(failed.length).toBeLessThanOrEqual(0 + 2);
    expect(started["keep-none-failed"].size - failed.length).toBeGreaterThanOrEqual(3);
  });
});

describe("who a scheduled run acts as", () => {
  // src/pipelines/feature.ts:48-52 keeps the schedule's forja.dev/created-by (the admin who
  // created it) whoever later updates the schedule or the Pipeline it runs, and
  // src/tracking/pipeline-env.ts:82 mints MLFLOW_TRACKING_TOKEN for that user. An editor of the
  // project changes the code the schedule runs (and unsuspends it), and the step then holds a
  // platform-admin token.
  it("an editor who rewrites a scheduled pipeline does not get the schedule creator's (admin) token", async () => {
    const dave = await s.user("dave", { "team-s": "editor" });
    const doc = (kind: string, name: string, spec: Record<string, unknown>) => ({ apiVersion: "forja.dev/v1", kind, metadata: { name, project: "team-s" }, spec });
    // The admin sets up a harmless nightly pipeline, suspended for now.
    await s.admin.apply([
      doc("Pipeline", "nightly", { steps: [{ name: "work", command: ["sh", "-c", "true"] }] }),
      doc("PipelineSchedule", "nightly", { pipelineRef: { name: "nightly" }, schedule: "* * * * * *", suspend: true }),
    ]);
    // The editor changes what runs: a step that asks the API who its token belongs to.
    const probe = `fetch(process.env.FORJA_URL + "/api/v1/whoami", { headers: { authorization: "Bearer " + process.env.MLFLOW_TRACKING_TOKEN } })
      .then((r) => r.json()).then((j) => require("fs").writeFileSync(process.env.FORJA_OUTPUTS_DIR + "/params/who", j.user + ":" + j.admin))`;
    await dave.client.apply([
      doc("Pipeline", "nightly", { steps: [{ name: "work", command: [process.execPath, "-e", probe], outputs: { params: { who: { type: "string" } } } }] }),
    ]);
    const sched = await s.admin.get<{ spec: Record<string, unknown> }>("PipelineSchedule", "nightly", "team-s");
    await dave.client.apply([doc("PipelineSchedule", "nightly", { ...sched.spec, suspend: false })]);
    let who: unknown;
    const deadline = Date.now() + 20_000;
    while (who === undefined && Date.now() < deadline) {
      const runs = (await s.admin.list("pipelineruns", { project: "team-s" })).items as unknown as { status: { phase: string; nodes?: Record<string, { outputs?: { params?: Record<string, unknown> } }> } }[];
      for (const r of runs) if (r.status.phase === "Succeeded") who = r.status.nodes?.["work"]?.outputs?.params?.["who"];
      if (who === undefined) await new Promise((res) => setTimeout(res, 200));
    }
    await s.admin.apply([doc("PipelineSchedule", "nightly", { ...sched.spec, suspend: true })]);
    expect(who).toBeDefined();
    expect(who).not.toBe("admin:true");
  });

  it("a scheduled run acts as the lesser of the schedule's and the pipeline's last writers", async () => {
    await s.user("erin", { "team-t": "editor" }).then(({ client }) =>
      client.apply([scheduleDoc("team-t", "Pipeline", "job", { steps: [{ name: "work", command: ["sh", "-c", "true"] }] })]),
    );
    // The admin writes the schedule last: the run still acts as erin, who wrote the code.
    await s.admin.apply([scheduleDoc("team-t", "PipelineSchedule", "job", { pipelineRef: { name: "job" }, schedule: "* * * * * *" })]);
    const run = await eventually("a scheduled run", async () => (await s.admin.list("pipelineruns", { project: "team-t" })).items[0], 5000);
    await s.admin.apply([scheduleDoc("team-t", "PipelineSchedule", "job", { pipelineRef: { name: "job" }, schedule: "* * * * * *", suspend: true })]);
    expect(run.metadata.annotations["forja.dev/created-by"]).toBe("erin");
    const [pl, sched] = await Promise.all([s.admin.get<Run>("Pipeline", "job", "team-t"), s.admin.get<Run>("PipelineSchedule", "job", "team-t")]);
    expect(pl.metadata.annotations["forja.dev/modified-by"]).toBe("erin");
    expect(sched.metadata.annotations["forja.dev/modified-by"]).toBe("admin");
  });

  it("a step's token, even an admin's, acts only in the run's project and as an editor at most", async () => {
    await s.admin.apply([{ apiVersion: "forja.dev/v1", kind: "Project", metadata: { name: "team-u" }, spec: { members: [] } }]);
    const probe = `const h = { authorization: "Bearer " + process.env.MLFLOW_TRACKING_TOKEN };
      const go = (p, init = {}) => fetch(process.env.FORJA_URL + p, { ...init, headers: init.body ? { ...h, "content-type": "application/json" } : h });
      (async () => {
        const me = await (await go("/api/v1/whoami")).json();
        const codes = [
          (await go("/api/v1/projects/team-u/pipelines")).status,
          (await go("/api/v1/projects/${PROJECT}/pipelines")).status,
          (await go("/api/v1/tokens", { method: "POST", body: JSON.stringify({ name: "escape" }) })).status,
          (await go("/api/v1/projects/team-u", { method: "DELETE" })).status,
        ];
        require("fs").writeFileSync(process.env.FORJA_OUTPUTS_DIR + "/params/who", [me.user, me.admin, me.scope ? me.scope.project + "/" + me.scope.role : "unscoped", ...codes].join(":"));
      })();`;
    await s.admin.apply([
      scheduleDoc("team-u", "Pipeline", "probe", { steps: [{ name: "work", command: [process.execPath, "-e", probe], outputs: { params: { who: { type: "string" } } } }] }),
      scheduleDoc("team-u", "PipelineSchedule", "probe", { pipelineRef: { name: "probe" }, schedule: "* * * * * *" }),
    ]);
    const who = await eventually("a run of the probe to succeed", async () => {
      const runs = (await s.admin.list("pipelineruns", { project: "team-u" })).items as unknown as Run[];
      return runs.find((r) => r.status.phase === "Succeeded")?.status.nodes["work"]?.outputs?.params?.["who"];
    }, 20_000);
    await s.admin.apply([scheduleDoc("team-u", "PipelineSchedule", "probe", { pipelineRef: { name: "probe" }, schedule: "* * * * * *", suspend: true })]);
    // itself: not an admin, scoped to its project as an editor; its project: readable; another
    // project, new tokens, deleting the project: refused
    expect(who).toBe("admin:false:team-u/editor:200:403:403:403");
  });
});
