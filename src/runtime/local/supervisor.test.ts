import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { decodeExitRecord, parseExitRecord, shQuote, supervisorScript } from "./supervisor.ts";

describe("sh supervisor helpers", () => {
  it("quotes anything but NUL for sh", () => {
    for (const s of ["plain", "with space", "it's", "'", "$HOME `x` \"q\" \\ \n*?"]) {
      expect(execFileSync("/bin/sh", ["-c", `printf %s ${shQuote(s)}`], { encoding: "utf8" })).toBe(s);
    }
  });

  it("decodes shell statuses, reading 128+n as signal n", () => {
    expect(decodeExitRecord({ status: 0 })).toEqual({ exitCode: 0 });
    expect(decodeExitRecord({ status: 3 })).toEqual({ exitCode: 3 });
    expect(decodeExitRecord({ status: 128 })).toEqual({ exitCode: 128 });
    expect(decodeExitRecord({ status: 137 })).toEqual({ signal: "SIGKILL" });
    expect(decodeExitRecord({ status: 143 })).toEqual({ signal: "SIGTERM" });
    expect(decodeExitRecord({ status: 255 })).toEqual({ exitCode: 255 });
    // Records of the former Node supervisor (orphans started before an upgrade).
    expect(decodeExitRecord({ exitCode: 4, signal: null })).toEqual({ exitCode: 4, signal: undefined });
    expect(decodeExitRecord({ exitCode: null, signal: "SIGINT" })).toEqual({ exitCode: undefined, signal: "SIGINT" });
    expect(decodeExitRecord({ error: "cannot start x" })).toEqual({ error: "cannot start x" });
  });

  it("treats an empty or truncated exit record as none", () => {
    expect(parseExitRecord("")).toBeUndefined();
    expect(parseExitRecord('{"status":1')).toBeUndefined();
    expect(parseExitRecord("[]")).toBeUndefined();
    expect(parseExitRecord('{"status":1}\n')).toEqual({ status: 1 });
  });

  it("embeds paths quoted and takes the command only as \"$@\"", () => {
    const script = supervisorScript({ dir: "/data/it's here", mvPath: "/bin/mv", cgroupProcsFiles: ["/cg/a b/cgroup.procs"], addressSpaceKiB: 1024 });
    expect(script).toContain(`'/data/it'\\''s here/exit.json.tmp'`);
    expect(script).toContain(`echo 0 >'/cg/a b/cgroup.procs' || exit 125`);
    expect(script).toContain("ulimit -v 1024 || exit 125");
    expect(script).toContain('exec "$@")');
    // No variable assignment before the command: it would leak into the workload's env.
    const beforeCommand = script.slice(0, script.indexOf('exec "$@"'));
    expect(beforeCommand).not.toMatch(/(^|[\s;(])[A-Za-z_][A-Za-z0-9_]*=/);
  });
});
