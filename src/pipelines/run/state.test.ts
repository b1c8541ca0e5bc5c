import { describe, expect, it } from "vitest";
import type { NodePhase, NodeStatus, RunPhase } from "../kinds.ts";
import { WORKLOAD_ID_PATTERN } from "../../runtime/local/validate.ts";
import { aggregatePhase, canTransitionNode, canTransitionRun, finalOutcome, isNodeTerminal, isRunTerminal, mainOutcome, workloadId } from "./state.ts";

const NODE_PHASES: NodePhase[] = ["Pending", "Running", "Retrying", "Succeeded", "Failed", "Skipped", "Cancelled"];
const RUN_PHASES: RunPhase[] = ["Pending", "Running", "Succeeded", "Failed", "Cancelled"];

const n = (phase: NodePhase, step = "s"): NodeStatus => ({ step, phase });

describe("node state machine", () => {
  it("allows exactly the documented transitions", () => {
    const legal = new Set([
      "Pending>Running",
      "Pending>Succeeded", // cache hit
      "Pending>Failed", // inputs could not be resolved, the process could not start
      "Pending>Skipped",
      "Pending>Cancelled",
      "Running>Succeeded",
      "Running>Failed",
      "Running>Retrying",
      "Running>Cancelled",
      "Retrying>Running",
      "Retrying>Failed",
      "Retrying>Cancelled",
      "Failed>Pending", // retry of the run
      "Skipped>Pending",
      "Cancelled>Pending",
    ]);
    for (const from of NODE_PHASES) {
      for (const to of NODE_PHASES) {
        const expected = from === to || legal.has(`${from}>${to}`);
        expect(canTransitionNode(from, to), `${from} → ${to}`).toBe(expected);
      }
    }
  });

  it("never leaves Succeeded: a succeeded step keeps its outputs, even across a retry of the run", () => {
    for (const to of NODE_PHASES.filter((p) => p !== "Succeeded")) expect(canTransitionNode("Succeeded", to)).toBe(false);
  });

  it("terminal phases are the ones a step cannot leave on its own", () => {
    expect(NODE_PHASES.filter(isNodeTerminal)).toEqual(["Succeeded", "Failed", "Skipped", "Cancelled"]);
    for (const p of NODE_PHASES.filter((x) => !isNodeTerminal(x))) {
      // every non-terminal phase can still reach an end
      expect(NODE_PHASES.some((to) => isNodeTerminal(to) && canTransitionNode(p, to)), p).toBe(true);
    }
  });
});

describe("run state machine", () => {
  it("allows exactly the documented transitions", () => {
    const legal = new Set(["Pending>Running", "Pending>Failed", "Pending>Cancelled", "Running>Succeeded", "Running>Failed", "Running>Cancelled", "Failed>Running", "Cancelled>Running"]);
    for (const from of RUN_PHASES) {
      for (const to of RUN_PHASES) expect(canTransitionRun(from, to), `${from} → ${to}`).toBe(from === to || legal.has(`${from}>${to}`));
    }
  });

  it("terminal run phases", () => {
    expect(RUN_PHASES.filter(isRunTerminal)).toEqual(["Succeeded", "Failed", "Cancelled"]);
  });
});

describe("aggregatePhase (a forEach step from its iterations)", () => {
  it.each<[NodePhase[], NodePhase]>([
    [[], "Succeeded"], // an empty list: no iteration, the step succeeds
    [["Succeeded", "Succeeded"], "Succeeded"],
    [["Succeeded", "Running"], "Running"],
    [["Succeeded", "Retrying"], "Running"],
    [["Succeeded", "Pending"], "Pending"], // waiting for a parallelism slot
    [["Pending", "Running"], "Running"],
    [["Failed", "Pending"], "Pending"], // the remaining iterations still run
    [["Succeeded", "Failed"], "Failed"],
    [["Failed", "Cancelled"], "Failed"],
    [["Succeeded", "Cancelled"], "Cancelled"],
  ])("%j → %s", (iterations, expected) => {
    expect(aggregatePhase(iterations)).toBe(expected);
  });
});

describe("run outcome", () => {
  it("mainOutcome: cancel wins, then a failure or a run timeout, then a cancelled step; skipped steps do not fail a run", () => {
    expect(mainOutcome([n("Succeeded"), n("Skipped")], false, false)).toBe("Succeeded");
    expect(mainOutcome([], false, false)).toBe("Succeeded");
    expect(mainOutcome([n("Succeeded"), n("Failed"), n("Skipped")], false, false)).toBe("Failed");
    expect(mainOutcome([n("Succeeded"), n("Cancelled")], false, true)).toBe("Failed");
    expect(mainOutcome([n("Succeeded"), n("Succeeded")], false, true)).toBe("Failed");
    expect(mainOutcome([n("Failed"), n("Cancelled")], true, false)).toBe("Cancelled");
    expect(mainOutcome([n("Succeeded"), n("Cancelled")], false, false)).toBe("Cancelled");
    expect(mainOutcome([n("Failed"), n("Cancelled")], false, false)).toBe("Failed");
  });

  it("finalOutcome: a failed finally step fails an otherwise successful run, but does not hide a failure or a cancel", () => {
    expect(finalOutcome("Succeeded", [n("Succeeded"), n("Skipped")])).toBe("Succeeded");
    expect(finalOutcome("Succeeded", [n("Succeeded"), n("Failed")])).toBe("Failed");
    expect(finalOutcome("Failed", [n("Succeeded")])).toBe("Failed");
    expect(finalOutcome("Failed", [n("Failed")])).toBe("Failed");
    expect(finalOutcome("Cancelled", [n("Succeeded")])).toBe("Cancelled");
    expect(finalOutcome("Cancelled", [n("Failed")])).toBe("Cancelled");
  });
});

describe("workloadId", () => {
  const uid = "0f8fad5b-d9cb-469f-a165-70867728950e";
  const other = "7c9e6679-7425-40de-944b-e07fc1f90ae7";

  it("is deterministic per (run, node, attempt) — starting the same attempt twice finds the same workload", () => {
    expect(workloadId(uid, "train", 1)).toBe(workloadId(uid, "train", 1));
    expect(workloadId(uid, "train[3]", 2)).toBe(workloadId(uid, "train[3]", 2));
  });

  it("differs between runs, nodes, iterations and attempts", () => {
    const ids = [
      workloadId(uid, "train", 1),
      workloadId(uid, "train", 2),
      workloadId(other, "train", 1),
      workloadId(uid, "eval", 1),
      workloadId(uid, "train[0]", 1),
      workloadId(uid, "train[1]", 1),
      workloadId(uid, "train[1]", 2),
      workloadId(uid, "train[10]", 1),
      workloadId(uid, "train[1]", 10),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("never maps an iteration and a step of another name to the same workload", () => {
    // Step names are DNS labels, so "train-i2" and "train-i2-a1" are valid step names.
    const pairs: [string, number, string, number][] = [
      ["train[2]", 1, "train-i2", 1],
      ["train[1]", 1, "train-a1-i1", 1],
      ["x[1]", 2, "x-a2-i1", 1],
      ["a-a1", 2, "a", 1],
      ["a[1]", 1, "a-i1", 1],
    ];
    for (const [a, na, b, nb] of pairs) expect(workloadId(uid, a, na), `${a}#${na} vs ${b}#${nb}`).not.toBe(workloadId(uid, b, nb));
    // and exhaustively over a small alphabet of names, indices and attempts
    const names = ["a", "a-i1", "a-a1", "a-a1-i1", "a-i1-a1", "a-1", "i1", "a1"];
    const seen = new Map<string, string>();
    for (const name of names) {
      for (const node of [name, `${name}[1]`, `${name}[11]`]) {
        for (const attempt of [1, 11]) {
          const id = workloadId(uid, node, attempt);
          const key = `${node}#${attempt}`;
          expect(seen.get(id), `${key} collides with ${seen.get(id)}: ${id}`).toBeUndefined();
          seen.set(id, key);
        }
      }
    }
  });

  it("is a valid runtime id ([a-z0-9-], at most 128) even for the longest step names, iterations and attempts", () => {
    const longest = `s${"x".repeat(61)}9`; // 63 characters, the longest DNS label
    for (const nodeId of [longest, `${longest}[99999]`, "a", "a[0]"]) {
      for (const attempt of [1, 101, 5000]) {
        const id = workloadId(uid, nodeId, attempt);
        expect(id).toMatch(WORKLOAD_ID_PATTERN);
        expect(id.length).toBeLessThanOrEqual(128);
        // nothing was cut off: the attempt number is still in the id
        expect(id).toContain(`a${attempt}`);
      }
    }
  });
});
