/**
 * The step executor: turns a resolved step into a workload on the runtime port and its
 * finished workload back into outputs. It implements the executor contract of
 * src/pipelines/spec/contract.ts: inputs materialised as files (params, artifacts —
 * directories for fan-in), outputs collected from files into the artifact store.
 */
import { createReadStream, createWriteStream, mkdirSync, writeFileSync } from "node:fs";
import { mkdir, readFile, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { pipeline as pipe } from "node:stream/promises";
import type { ArtifactStore, Digest } from "../../artifacts/port.ts";
import { lostBeforeStart, type WorkloadRuntime, type WorkloadStatus } from "../../runtime/port.ts";
import {
  executorArgv,
  executorEnv,
  fanInEntryName,
  formatParamValue,
  inputArtifactPath,
  inputParamPath,
  outputArtifactPath,
  outputParamPath,
  parseParamValue,
  type ResolvedStep,
  type ValidatedStep,
} from "../spec/index.ts";
import type { NodeOutputs } from "../kinds.ts";

export interface RunIdentity {
  readonly uid: string;
  readonly name: string;
  readonly project: string;
}

export interface ExecutorOptions {
  readonly artifacts: ArtifactStore;
  readonly runtime: WorkloadRuntime;
  /** Where per-execution input/output directories live: `<runsDir>/<run uid>/<workload id>/`. */
  readonly runsDir: string;
  /** Extra environment for every step (platform URL, tracking variables, ...). */
  readonly stepEnv?: (run: RunIdentity, nodeId: string) => Record<string, string>;
  /** Secret env for every step (e.g. a per-run API token). */
  readonly stepSecretEnv?: (run: RunIdentity, nodeId: string) => Promise<Record<string, string>>;
  /** Largest output artifact collected. */
  readonly maxArtifactBytes?: number;
}

export type Collected = { ok: true; outputs: NodeOutputs } | { ok: false; reason: string; message: string };

export const RUN_LABELS = {
  runUid: "forja.dev/run-uid",
  run: "forja.dev/run",
  project: "forja.dev/project",
  node: "forja.dev/node",
} as const;

export class StepExecutor {
  constructor(private readonly o: ExecutorOptions) {}

  dirs(runUid: string, workload: string): { base: string; inputs: string; outputs: string } {
    const base = join(this.o.runsDir, runUid, workload);
    return { base, inputs: join(base, "inputs"), outputs: join(base, "outputs") };
  }

  /**
   * Starts (or finds, if already started) the workload of one attempt. One that the runtime lost
   * before it started (the server restarted while it was queued) never ran: it is started again.
   * The directories and small files are made synchronously: each takes microseconds, while an
   * async call waits its turn in libuv's thread pool, on the path from one step's end to the next
   * step's start.
   */
  async start(run: RunIdentity, step: ResolvedStep, workload: string, secretValues: Record<string, string>): Promise<WorkloadStatus> {
    const existing = await this.o.runtime.get(workload);
    if (existing && !lostBeforeStart(existing)) return existing;
    if (existing) await this.o.runtime.remove(workload);
    const { base, inputs, outputs } = this.dirs(run.uid, workload);
    // Parents first: one mkdir each (recursive only to accept what a crash left behind).
    for (const dir of [base, inputs, join(inputs, "params"), join(inputs, "artifacts"), outputs, join(outputs, "params"), join(outputs, "artifacts")]) {
      mkdirSync(dir, { recursive: true });
    }
    for (const [name, value] of Object.entries(step.inputs.params)) writeFileSync(inputParamPath(inputs, name), formatParamValue(value));
    for (const [name, a] of Object.entries(step.inputs.artifacts)) {
      const target = inputArtifactPath(inputs, name);
      if (a.fanIn) {
        await mkdir(target, { recursive: true });
        for (const [i, d] of a.digests.entries()) await this.download(d, join(target, fanInEntryName(i, a.digests.length)));
      } else await this.download(a.digest, target);
    }
    let scriptPath: string | undefined;
    if (step.script !== undefined) {
      scriptPath = join(base, step.scriptFileName ?? "script");
      writeFileSync(scriptPath, step.script, { mode: 0o755 });
    }
    const env = {
      ...(this.o.stepEnv?.(run, step.nodeId) ?? {}),
      ...executorEnv(step, { inputsDir: inputs, outputsDir: outputs, runId: run.uid, project: run.project }),
    };
    const platformSecrets = (await this.o.stepSecretEnv?.(run, step.nodeId)) ?? {};
    return this.o.runtime.start({
      id: workload,
      ...(step.image ? { image: step.image } : {}),
      command: executorArgv(step, scriptPath),
      env,
      secretEnv: { ...platformSecrets, ...secretValues },
      labels: { [RUN_LABELS.runUid]: run.uid, [RUN_LABELS.run]: run.name, [RUN_LABELS.project]: run.project, [RUN_LABELS.node]: step.nodeId.replace(/\[(\d+)\]$/, "-i$1") },
      ...(step.timeoutSeconds !== undefined ? { timeoutSeconds: step.timeoutSeconds } : {}),
      resources: {
        requests: { ...step.resources.requests },
        limits: { ...step.resources.limits },
      },
    });
  }

  /** Reads the outputs a finished attempt declared: params parsed by type, artifacts stored by digest. */
  async collect(runUid: string, workload: string, step: ValidatedStep): Promise<Collected> {
    const { outputs } = this.dirs(runUid, workload);
    const params: Record<string, unknown> = {};
    for (const [name, decl] of Object.entries(step.outputs.params)) {
      let text: string;
      try {
        text = await readFile(outputParamPath(outputs, name), "utf8");
      } catch {
        return { ok: false, reason: "MissingOutput", message: `output param "${name}" was not written to $FORJA_OUTPUTS_DIR/params/${name}` };
      }
      const parsed = parseParamValue(decl.type === "string" ? text : text.trim(), decl.type);
      if ("error" in parsed) return { ok: false, reason: "InvalidOutput", message: `output param "${name}": ${parsed.error}` };
      params[name] = parsed.value;
    }
    const artifacts: Record<string, Digest> = {};
    for (const name of Object.keys(step.outputs.artifacts)) {
      const file = outputArtifactPath(outputs, name);
      const st = await stat(file).catch(() => undefined);
      if (!st) return { ok: false, reason: "MissingOutput", message: `output artifact "${name}" was not written to $FORJA_OUTPUTS_DIR/artifacts/${name}` };
      if (!st.isFile()) return { ok: false, reason: "InvalidOutput", message: `output artifact "${name}" must be a file (archive a directory first)` };
      try {
        const info = await this.o.artifacts.put(createReadStream(file), this.o.maxArtifactBytes ? { maxBytes: this.o.maxArtifactBytes } : {});
        artifacts[name] = info.digest;
      } catch (e) {
        return { ok: false, reason: "InvalidOutput", message: `output artifact "${name}": ${(e as Error).message}` };
      }
    }
    return {
      ok: true,
      outputs: {
        ...(Object.keys(params).length ? { params } : {}),
        ...(Object.keys(artifacts).length ? { artifacts } : {}),
      },
    };
  }

  /** Every blob still present? (a cache hit whose artifacts were deleted is a miss) */
  async outputsExist(outputs: NodeOutputs): Promise<boolean> {
    for (const d of Object.values(outputs.artifacts ?? {})) if (!(await this.o.artifacts.stat(d as Digest))) return false;
    return true;
  }

  /** Removes the run's working files (not its artifacts: they are content-addressed and shared). */
  async cleanup(runUid: string): Promise<void> {
    await rm(join(this.o.runsDir, runUid), { recursive: true, force: true });
  }

  private async download(digest: Digest, target: string): Promise<void> {
    await pipe(await this.o.artifacts.get(digest), createWriteStream(target));
  }
}
