/**
 * No runtime import cycles in src/ (type-only imports are erased and do not count).
 * A cycle makes module initialisation order matter and usually means two modules should be one,
 * or a seam is missing.
 */
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(import.meta.dirname, "../../src");

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(p);
    return /\.(ts|mts)$/.test(e.name) && !/\.test\.ts$/.test(e.name) ? [p] : [];
  });
}

/** Relative imports that exist at run time: not `import type`, not `export type`, not all-`type` specifier lists. */
export function runtimeImports(source: string): string[] {
  const out: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^;]*?)\s*from\s+["'](\.{1,2}\/[^"']+)["']/gms;
  for (const m of source.matchAll(re)) {
    if (m[2]) continue;
    const clause = m[3] ?? "";
    const braces = clause.match(/^\{([\s\S]*)\}$/);
    if (braces && braces[1]!.split(",").map((s) => s.trim()).filter(Boolean).every((s) => s.startsWith("type "))) continue;
    out.push(m[4]!);
  }
  for (const m of source.matchAll(/^\s*import\s+["'](\.{1,2}\/[^"']+)["']/gm)) out.push(m[1]!);
  return out;
}

function findCycles(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "visiting" | "done">();
  const stack: string[] = [];
  const visit = (n: string) => {
    state.set(n, "visiting");
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === "visiting") cycles.push([...stack.slice(stack.indexOf(m)), m]);
      else if (!state.has(m)) visit(m);
    }
    stack.pop();
    state.set(n, "done");
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return cycles;
}

describe("architecture", () => {
  it("the import-scanner sees runtime imports and ignores type-only ones", () => {
    const src = `import { a } from "./a.ts";\nimport type { B } from "./b.ts";\nimport { type C, type D } from "./c.ts";\nimport { type E, f } from "./e.ts";\nexport { g } from "./g.ts";\nexport type { H } from "./h.ts";\nimport "./side.ts";`;
    expect(runtimeImports(src).sort()).toEqual(["./a.ts", "./e.ts", "./g.ts", "./side.ts"]);
  });

  it("src/ has no runtime import cycles", () => {
    const graph = new Map<string, string[]>();
    for (const file of sourceFiles(root)) {
      const deps = runtimeImports(readFileSync(file, "utf8")).map((spec) => resolve(dirname(file), spec));
      graph.set(file, deps);
    }
    const cycles = findCycles(graph).map((c) => c.map((f) => relative(root, f)).join(" → "));
    expect(cycles).toEqual([]);
  });
});
