/**
 * vitest globalSetup: provides `pgUrl` (inject("pgUrl")) to every test worker.
 *
 * - FORJA_TEST_PG_URL set: use that server (superuser or a role with CREATEDB).
 * - else start a throwaway cluster from the local PostgreSQL binaries (test/support/postgres.ts)
 *   and stop it at the end of the run.
 * - no binaries (or FORJA_TEST_PG=off): provide null, PG suites are skipped — except when
 *   CI=true, where that is an error: CI must test PostgreSQL.
 *
 * Test code should not inject directly but use test/support/databases.ts.
 */
import type { TestProject } from "vitest/node";
import { findPgBinDir, redact, startTempPostgres, waitForPostgres } from "./postgres.ts";

declare module "vitest" {
  export interface ProvidedContext {
    /** Superuser URL of the test PostgreSQL server, null when PG tests are skipped. */
    pgUrl: string | null;
  }
}

const onCi = process.env.CI === "true";

function skipPostgres(project: TestProject, why: string): void {
  if (onCi) {
    throw new Error(`[forja test] ${why} — CI=true requires PostgreSQL tests (run .ci/install-deps.sh)`);
  }
  console.warn(`[forja test] ${why}: PostgreSQL test suites are SKIPPED. Install postgresql or set FORJA_TEST_PG_URL.`);
  project.provide("pgUrl", null);
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const external = process.env.FORJA_TEST_PG_URL;
  if (external) {
    await waitForPostgres(external, 15_000);
    console.log(`[forja test] using PostgreSQL at ${redact(external)}`);
    project.provide("pgUrl", external);
    return undefined;
  }
  if (process.env.FORJA_TEST_PG === "off") {
    skipPostgres(project, "FORJA_TEST_PG=off");
    return undefined;
  }
  const binDir = findPgBinDir();
  if (!binDir) {
    skipPostgres(project, "no PostgreSQL server binaries found (/usr/lib/postgresql/*/bin, PATH)");
    return undefined;
  }
  const started = Date.now();
  const server = await startTempPostgres({ binDir });
  console.log(`[forja test] PostgreSQL from ${binDir} at ${redact(server.url)} (${Date.now() - started} ms)`);
  project.provide("pgUrl", server.url);
  return () => server.stop();
}
