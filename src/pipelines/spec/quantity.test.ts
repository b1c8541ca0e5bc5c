import { describe, expect, it } from "vitest";
import { parseCpu, parseDuration, parseMemory, parseTemplate, retryDelaySeconds, fanInEntryName, paramEnvName, scriptFileName } from "./index.ts";

describe("quantities and durations", () => {
  it("durations", () => {
    expect(parseDuration(90)).toBe(90);
    expect(parseDuration("90s")).toBe(90);
    expect(parseDuration("10m")).toBe(600);
    expect(parseDuration("1h30m")).toBe(5400);
    expect(parseDuration("1.5h")).toBe(5400);
    expect(parseDuration("500ms")).toBe(0.5);
    expect(parseDuration("2d")).toBe(172800);
    for (const bad of ["", "10", "5 minutes", "1h 30m", "-1s", -1, "1w"]) expect(parseDuration(bad)).toBeUndefined();
  });

  it("memory", () => {
    expect(parseMemory(1024)).toBe(1024);
    expect(parseMemory("512Mi")).toBe(512 * 2 ** 20);
    expect(parseMemory("1Gi")).toBe(2 ** 30);
    expect(parseMemory("1G")).toBe(1e9);
    expect(parseMemory("1.5Gi")).toBe(1.5 * 2 ** 30);
    expect(parseMemory("100k")).toBe(100_000);
    expect(parseMemory("123")).toBe(123);
    for (const bad of ["512MB", "1 Gi", "Gi", 0, -5, 1.5, "1m", ""]) expect(parseMemory(bad)).toBeUndefined();
  });

  it("cpu", () => {
    expect(parseCpu(0.5)).toBe(0.5);
    expect(parseCpu("500m")).toBe(0.5);
    expect(parseCpu("2")).toBe(2);
    expect(parseCpu("0.25")).toBe(0.25);
    expect(parseCpu(1)).toBe(1);
    for (const bad of [0, "0", "0m", -1, "1 core", "1.5m", ""]) expect(parseCpu(bad)).toBeUndefined();
  });
});

describe("contract helpers", () => {
  it("param env names", () => {
    expect(paramEnvName("rows")).toBe("FORJA_PARAM_ROWS");
    expect(paramEnvName("learning_rate2")).toBe("FORJA_PARAM_LEARNING_RATE2");
  });
  it("fan-in entry names sort in index order", () => {
    expect([0, 1, 9, 10, 11].map((i) => fanInEntryName(i, 12))).toEqual(["00", "01", "09", "10", "11"]);
    expect(fanInEntryName(3, 4)).toBe("3");
  });
  it("script file names by interpreter", () => {
    expect(scriptFileName(["node"])).toBe("script.mjs");
    expect(scriptFileName(["/usr/bin/python3", "-u"])).toBe("script.py");
    expect(scriptFileName(["bash", "-e"])).toBe("script.sh");
    expect(scriptFileName(["ruby"])).toBe("script");
  });
  it("retry delays", () => {
    const p = { limit: 5, backoffSeconds: 1, factor: 2, maxBackoffSeconds: 5 };
    expect([1, 2, 3, 4].map((r) => retryDelaySeconds(p, r))).toEqual([1, 2, 4, 5]);
  });
});

describe("parseTemplate", () => {
  it("splits text and references, ignoring non-reference braces", () => {
    const t = parseTemplate("a {{ params.x }} b {{jinja}} {{steps.s.status}}");
    expect(t.errors).toEqual([]);
    expect(t.segments.map((s) => (s.kind === "text" ? s.text : s.ref))).toEqual([
      "a ",
      { kind: "param", name: "x" },
      " b {{jinja}} ",
      { kind: "stepStatus", step: "s" },
    ]);
  });
});
