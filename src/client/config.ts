/**
 * The client config file ($FORJA_CONFIG, default ~/.config/forja/config.yaml):
 *   server: http://127.0.0.1:8080
 *   token: forja_...
 *   project: default        # project used when a command does not name one
 * FORJA_URL, FORJA_TOKEN and FORJA_PROJECT override it.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { parse, stringify } from "yaml";
import { InvalidInputError } from "../platform/errors.ts";

export interface ClientConfig {
  server?: string;
  token?: string;
  project?: string;
}

export function readClientConfig(path: string): ClientConfig | undefined {
  if (!existsSync(path)) return undefined;
  let doc: unknown;
  try {
    doc = parse(readFileSync(path, "utf8"));
  } catch (e) {
    throw InvalidInputError.field(path, `is not valid YAML: ${(e as Error).message.split("\n")[0]}`);
  }
  if (doc === null || doc === undefined) return {};
  if (typeof doc !== "object" || Array.isArray(doc)) throw InvalidInputError.field(path, "must be a mapping with server, token, project");
  const c = doc as Record<string, unknown>;
  const out: ClientConfig = {};
  for (const k of ["server", "token", "project"] as const) {
    const v = c[k];
    if (v === undefined || v === null) continue;
    if (typeof v !== "string") throw InvalidInputError.field(`${path}: ${k}`, "must be a string");
    out[k] = v;
  }
  return out;
}

/** Atomic write, readable by the owner only (it holds a token). */
export function writeClientConfig(path: string, config: ClientConfig): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `# Forja client configuration (holds an API token: keep it private)\n${stringify(config)}`, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, path);
}
