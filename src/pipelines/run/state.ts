/**
 * The run and step state machines: which phases exist, which transitions are legal, and
 * how node phases aggregate into a run outcome. Pure; the controller drives it.
 *
 *   node:  Pending → Running → Succeeded | Failed | Retrying → Running ...
 *          Pending → Succeeded (cache hit) | Skipped | Cancelled
 *          Running → Cancelled
 *          Failed | Cancelled | Skipped → Pending   (retry of the run)
 *   run:   Pending → Running → Succeeded | Failed | Cancelled;  Failed | Cancelled → Running (retry)
 */
import { assertNever } from "../../platform/errors.ts";
import type { NodePhase, NodeStatus, RunPhase } from "../kinds.ts";

const nodeTransitions: Record<NodePhase, readonly NodePhase[]> = {
  Pending: ["Running", "Succeeded", "Failed", "Skipped", "Cancelled"],
  Running: ["Succeeded", "Failed", "Retrying", "Cancelled"],
  Retrying: ["Running", "Failed", "Cancelled"],
  Succeeded: [],
  Failed: ["Pending"],
  Skipped: ["Pending"],
  Cancelled: ["Pending"],
};

export function canTransitionNode(from: NodePhase, to: NodePhase): boolean {
  return from === to || nodeTransitions[from].includes(to);
}

const runTransitions: Record<RunPhase, readonly RunPhase[]> = {
  Pending: ["Running", "Failed", "Cancelled"],
  Running: ["Succeeded", "Failed", "Cancelled"],
  Succeeded: [],
  Failed: ["Running"],
  Cancelled: ["Running"],
};

export function canTransitionRun(from: RunPhase, to: RunPhase): boolean {
  return from === to || runTransitions[from].includes(to);
}

export function isNodeTerminal(phase: NodePhase): boolean {
  switch (phase) {
    case "Succeeded":
    case "Failed":
    case "Skipped":
    case "Cancelled":
      return true;
    case "Pending":
    case "Running":
    case "Retrying":
      return false;
    default:
      return assertNever(phase, "node phase");
  }
}

export function isRunTerminal(phase: RunPhase): boolean {
  switch (phase) {
    case "Succeeded":
    case "Failed":
    case "Cancelled":
      return true;
    case "Pending":
    case "Running":
      return false;
    default:
      return assertNever(phase, "run phase");
  }
}

/** Aggregate of a forEach step from its iterations (all terminal). */
export function aggregatePhase(iterations: readonly NodePhase[]): NodePhase {
  if (iterations.some((p) => !isNodeTerminal(p))) return iterations.some((p) => p === "Running" || p === "Retrying") ? "Running" : "Pending";
  if (iterations.includes("Failed")) return "Failed";
  if (iterations.includes("Cancelled")) return "Cancelled";
  return "Succeeded";
}

/**
 * Outcome of the main steps once all are terminal: Cancelled if the run was cancelled,
 * Failed if any failed (or the run timed out), else Succeeded. Skipped steps do not fail a run.
 */
export function mainOutcome(nodes: readonly NodeStatus[], cancelled: boolean, timedOut: boolean): "Succeeded" | "Failed" | "Cancelled" {
  if (cancelled) return "Cancelled";
  if (timedOut || nodes.some((n) => n.phase === "Failed")) return "Failed";
  if (nodes.some((n) => n.phase === "Cancelled")) return "Cancelled";
  return "Succeeded";
}

/** Final run phase: a failing finally step fails an otherwise successful run. */
export function finalOutcome(main: "Succeeded" | "Failed" | "Cancelled", finallyNodes: readonly NodeStatus[]): RunPhase {
  if (main === "Succeeded" && finallyNodes.some((n) => n.phase === "Failed")) return "Failed";
  return main;
}

/**
 * Ids of the workloads are deterministic per (run, node, attempt): starting twice is a no-op.
 * `r<run>-<step>-a<attempt>`, and `r<run>-<step>-a<attempt>-i<index>` for an iteration: the
 * id ends with `-a<n>` or `-i<n>`, so no step name (a DNS label, which may well be
 * "train-i2") can produce the id of another step's iteration.
 */
export function workloadId(runUid: string, nodeId: string, attempt: number): string {
  const m = /^(.*)\[(\d+)\]$/.exec(nodeId);
  const step = (m ? m[1]! : nodeId).toLowerCase().replace(/[^a-z0-9-]/g, "-");
  return `r${runUid.replace(/-/g, "").slice(0, 20)}-${step}-a${attempt}${m ? `-i${m[2]}` : ""}`.slice(0, 128);
}
