/**
 * The run controller on both store engines. It keeps an active run's status in memory and stores
 * it behind the steps (at most every 250 ms): once the run has ended, the stored status — what
 * `forja get pipelineruns -o yaml` shows — must hold every node, attempt and output, on SQLite
 * and on PostgreSQL.
 */
import { afterEach, expect, it } from "vitest";
import { forEachEngine } from "../support/databases.ts";
import { startTestServer, type TestServer } from "../support/server.ts";
import { applyOk, node, phases, pipeline, startRun, waitRun } from "./support.ts";

const N = 12;

forEachEngine((_engine, db) => {
  let s: TestServer | undefined;
  afterEach(async () => {
    await s?.stop();
    s = undefined;
  });

  it("a fast fan-out and its fan-in: the stored status of the ended run is complete", async () => {
    const d = db();
    s = await startTestServer({ databaseUrl: d.engine === "postgres" ? d.url : `sqlite:${d.filename}` });
    await applyOk(s, [
      pipeline("squares", {
        steps: [
          {
            name: "items",
            command: ["sh", "-c", `printf '%s' '${JSON.stringify(Array.from({ length: N }, (_, i) => i))}' > "$FORJA_OUTPUTS_DIR/params/items"`],
            outputs: { params: { items: { type: "array" } } },
          },
          {
            name: "sq",
            forEach: { items: "{{steps.items.outputs.params.items}}", parallelism: 3 },
            command: ["sh", "-c", 'echo $(( {{item}} * {{item}} )) > "$FORJA_OUTPUTS_DIR/params/sq"'],
            outputs: { params: { sq: { type: "integer" } } },
          },
          {
            name: "all",
            inputs: { params: { squares: "{{steps.sq.outputs.params.sq}}" } },
            command: ["sh", "-c", 'cp "$FORJA_INPUTS_DIR/params/squares" "$FORJA_OUTPUTS_DIR/params/squares"'],
            outputs: { params: { squares: { type: "array" } } },
          },
        ],
      }),
    ]);
    const run = await waitRun(s, (await startRun(s, "squares", { cache: false })).metadata.name, { timeoutMs: 30_000 });
    expect(run.status.phase, JSON.stringify(phases(run))).toBe("Succeeded");
    expect(run.status.progress).toBe(`${N + 2}/${N + 2}`);
    expect(node(run, "sq")).toMatchObject({ phase: "Succeeded", iterations: N });
    for (let i = 0; i < N; i++) {
      const it = node(run, `sq[${i}]`);
      expect(it, `sq[${i}]`).toMatchObject({ phase: "Succeeded", index: i, item: i, outputs: { params: { sq: i * i } } });
      expect(it.attempts, `sq[${i}]`).toMatchObject([{ n: 1, exitCode: 0, reason: "Completed" }]);
      expect(it.attempts?.[0]?.finishedAt, `sq[${i}]`).toBeDefined();
    }
    expect(node(run, "all").outputs?.params?.squares).toEqual(Array.from({ length: N }, (_, i) => i * i));
  }, 60_000);
});
