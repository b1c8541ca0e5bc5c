/**
 * The workload runtime port: how Forja runs a process-shaped piece of work (a pipeline step,
 * a kernel, a model server) without knowing where it runs. Adapters: local processes
 * (src/runtime/local/) now, Kubernetes pods later. Every adapter must pass
 * src/runtime/contract.ts.
 */

/** Lifecycle of one workload. Transitions live in `canTransition` below. */
export type WorkloadPhase =
  | "Pending" // accepted, waiting for a slot (concurrency limit) or for its process/pod to start
  | "Running"
  | "Succeeded" // exited 0
  | "Failed" // exited non-zero, was killed by a signal, timed out, or could not start
  | "Cancelled" // stopped on request
  | "Lost"; // the runtime lost track of it (e.g. its process vanished while the server was down with no exit record)

export const terminalPhases: ReadonlySet<WorkloadPhase> = new Set(["Succeeded", "Failed", "Cancelled", "Lost"]);
export function isTerminal(phase: WorkloadPhase): boolean {
  return terminalPhases.has(phase);
}

/**
 * Lost before it ever started (no `startedAt`): e.g. it was still queued when the server
 * restarted, and its secret values, never persisted, were gone. Nothing of it ran, so the caller
 * may `remove()` it and start the same id again.
 */
export function lostBeforeStart(status: WorkloadStatus): boolean {
  return status.phase === "Lost" && status.startedAt === undefined;
}

/**
 * Allowed phase transitions: Pending → Running | Failed (could not start) | Cancelled | Lost;
 * Running → any terminal phase; terminal phases are final.
 */
export function canTransition(from: WorkloadPhase, to: WorkloadPhase): boolean {
  if (isTerminal(from)) return false;
  if (from === "Pending") return to === "Running" || to === "Failed" || to === "Cancelled" || to === "Lost";
  return isTerminal(to);
}

/** Why a workload ended the way it did; `undefined` while it has not ended. */
export type TerminationReason =
  | "Completed"
  | "Error" // non-zero exit code
  | "Signal" // killed by a signal we did not send
  | "Timeout"
  | "Cancelled"
  | "OOMKilled"
  | "StartError" // command not found, bad working dir, ...
  | "Lost";

export interface ResourceQuantities {
  /** CPU cores, e.g. 0.5 or 2. */
  readonly cpu?: number;
  /** Bytes. */
  readonly memoryBytes?: number;
}

export interface VolumeMount {
  /** Absolute host path (local) or a claim name (Kubernetes) — adapters interpret `source`. */
  readonly source: string;
  /** Where the workload sees it. For local processes this is an env var-friendly alias; see adapter docs. */
  readonly mountPath: string;
  readonly readOnly?: boolean;
}

export interface WorkloadSpec {
  /** Unique id chosen by the caller (e.g. `<run-uid>-<step>-<attempt>`); [a-z0-9-]{1,128}. Starting the same id twice is idempotent. */
  readonly id: string;
  /** Container image. The local adapter ignores it (it runs on the host) but records it. */
  readonly image?: string;
  /** Executable and its leading arguments, e.g. ["node", "step.js"]. */
  readonly command: readonly string[];
  readonly args?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  /** Env vars holding secrets: given to the process, never logged nor written to status. */
  readonly secretEnv?: Readonly<Record<string, string>>;
  /** Working directory. Local: defaults to a fresh per-workload directory. */
  readonly workingDir?: string;
  readonly volumes?: readonly VolumeMount[];
  readonly resources?: { readonly requests?: ResourceQuantities; readonly limits?: ResourceQuantities };
  readonly labels?: Readonly<Record<string, string>>;
  /** Wall-clock limit from the moment it starts running; then it is stopped and ends Failed/Timeout. */
  readonly timeoutSeconds?: number;
  /** Between SIGTERM and SIGKILL on cancel/timeout. Default 10 s. */
  readonly gracePeriodSeconds?: number;
}

export interface WorkloadStatus {
  readonly id: string;
  readonly phase: WorkloadPhase;
  readonly reason?: TerminationReason;
  readonly message?: string;
  readonly exitCode?: number;
  readonly signal?: string;
  readonly createdAt: string; // ISO-8601
  /** When it started running (or may have: set whenever any of it could have run). */
  readonly startedAt?: string;
  readonly finishedAt?: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Where the adapter keeps the logs (local: the workload directory holding stdout.log and stderr.log; k8s: pod/container). Informational. */
  readonly logRef?: string;
}

export interface LogOptions {
  /** Keep streaming until the workload ends. */
  readonly follow?: boolean;
  readonly stream?: "stdout" | "stderr" | "both";
}

export interface LogChunk {
  readonly stream: "stdout" | "stderr";
  readonly data: Buffer;
}

export interface WorkloadRuntime {
  /** A short name for logs and metrics: "local", "kubernetes". */
  readonly name: string;
  /** Start (or return the existing workload with this id). Resolves once accepted, not once running. */
  start(spec: WorkloadSpec): Promise<WorkloadStatus>;
  /** Current status, or undefined when unknown to this runtime. */
  get(id: string): Promise<WorkloadStatus | undefined>;
  /** Workloads whose labels include all of `labels`. */
  list(labels?: Readonly<Record<string, string>>): Promise<WorkloadStatus[]>;
  /** Status changes of one workload, ending after a terminal status. Yields the current status first. */
  watch(id: string, signal?: AbortSignal): AsyncIterable<WorkloadStatus>;
  /** Log output captured so far; with `follow`, continues live until the workload ends. */
  logs(id: string, options?: LogOptions, signal?: AbortSignal): AsyncIterable<LogChunk>;
  /** Stop it: SIGTERM (to the whole process tree), SIGKILL after the grace period. Idempotent; no-op when already ended. */
  cancel(id: string, options?: { gracePeriodSeconds?: number }): Promise<void>;
  /** Forget an ended workload and delete its logs and working directory. */
  remove(id: string): Promise<void>;
  /** Re-discover workloads after a restart (orphans of a crashed server) and resume tracking them. */
  recover(): Promise<WorkloadStatus[]>;
  /** Subscribe to every status change of every workload. Returns an unsubscribe function. */
  onChange(listener: (status: WorkloadStatus) => void): () => void;
  /** Stop tracking (does not kill workloads: they survive a server restart). */
  close(): Promise<void>;
}
