// Supervisor of one Forja local workload (see src/runtime/README.md).
//
// Started by LocalProcessRuntime as a session/process-group leader with stdout/stderr already
// pointing at the workload's log files and a launch configuration on stdin (argv, cwd, env —
// secrets travel only through this pipe, never through a file). It runs the workload as its child
// and, when the child ends, atomically writes <dir>/exit.json with the exit code or signal. That
// record is what lets a restarted server learn how a workload ended while it was down.
//
// It ignores SIGTERM/SIGINT/SIGHUP: a cancel signals the whole process group, the workload
// reacts, and the supervisor outlives it to record the outcome. SIGKILL ends it too (then the
// server, which sent it, knows why).
import { spawn } from "node:child_process";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import process from "node:process";

const dir = process.argv[2];
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) process.on(sig, () => {});

let recorded = false;
function record(result) {
  if (recorded) return;
  recorded = true;
  const tmp = join(dir, "exit.json.tmp");
  writeFileSync(tmp, JSON.stringify({ ...result, finishedAt: new Date().toISOString() }));
  renameSync(tmp, join(dir, "exit.json"));
}

function describeSpawnError(file, err) {
  const code = err && typeof err === "object" && "code" in err ? err.code : undefined;
  if (code === "ENOENT") return `cannot start ${file}: command or working directory not found`;
  if (code === "EACCES") return `cannot start ${file}: permission denied`;
  return `cannot start ${file}: ${err instanceof Error ? err.message : String(err)}`;
}

async function main() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  let config;
  try {
    config = JSON.parse(Buffer.concat(chunks).toString("utf8"));
  } catch {
    record({ error: "the supervisor received no valid launch configuration" });
    return;
  }
  const [file, ...args] = config.argv;
  let child;
  try {
    child = spawn(file, args, { cwd: config.cwd, env: config.env, stdio: ["ignore", "inherit", "inherit"] });
  } catch (err) {
    record({ error: describeSpawnError(file, err) });
    return;
  }
  await new Promise((resolve) => {
    child.once("error", (err) => {
      record({ error: describeSpawnError(file, err) });
      resolve();
    });
    child.once("exit", (code, signal) => {
      record({ exitCode: code, signal });
      resolve();
    });
  });
}

main().then(
  () => process.exit(0),
  (err) => {
    try {
      record({ error: `supervisor failure: ${err instanceof Error ? err.message : String(err)}` });
    } catch {
      // nothing left to do: the server will report the workload Lost
    }
    process.exit(1);
  },
);
