/**
 * Typed, fail-fast configuration of the server process. The only module that reads
 * process.env; everything else receives config through constructors. A bad value stops
 * the process with a message naming the setting.
 */
import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { InvalidInputError, type FieldIssue } from "./errors.ts";

export type LogLevel = "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";

export interface ServerConfig {
  readonly dataDir: string;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  readonly databaseUrl: string;
  readonly logLevel: LogLevel;
  /** Largest JSON/YAML request body of the resource API. */
  readonly bodyLimitBytes: number;
  /** Largest single artifact upload. */
  readonly artifactMaxBytes: number;
  readonly maxConcurrentWorkloads: number;
  /** Any signed-in user may create projects (and owns them). */
  readonly selfServiceProjects: boolean;
  /** Where `forja up` writes the client config for the local CLI; undefined = don't. */
  readonly clientConfigPath: string | undefined;
  /** URL clients (and pipeline steps) use to reach this server; defaults to http://host:port. */
  readonly publicUrl: string | undefined;
}

export type Env = Readonly<Record<string, string | undefined>>;

export interface ConfigOverrides {
  dataDir?: string;
  host?: string;
  port?: number;
  databaseUrl?: string;
  logLevel?: LogLevel;
  writeClientConfig?: boolean;
}

const LOG_LEVELS: readonly LogLevel[] = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

export function defaultClientConfigPath(env: Env): string {
  if (env.FORJA_CONFIG) return resolve(env.FORJA_CONFIG);
  const base = env.XDG_CONFIG_HOME && isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(env.HOME ?? homedir(), ".config");
  return join(base, "forja", "config.yaml");
}

export function loadServerConfig(env: Env, overrides: ConfigOverrides = {}): ServerConfig {
  const issues: FieldIssue[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) {
      issues.push({ path: name, reason: `must be an integer from ${min} to ${max}, got "${raw}"` });
      return fallback;
    }
    return n;
  };
  const bool = (name: string, fallback: boolean): boolean => {
    const raw = env[name];
    if (raw === undefined || raw === "") return fallback;
    if (/^(1|true|yes|on)$/i.test(raw)) return true;
    if (/^(0|false|no|off)$/i.test(raw)) return false;
    issues.push({ path: name, reason: `must be true or false, got "${raw}"` });
    return fallback;
  };

  const dataDir = resolve(overrides.dataDir ?? env.FORJA_DATA_DIR ?? ".forja");
  const host = overrides.host ?? env.FORJA_HOST ?? "127.0.0.1";
  const port = overrides.port ?? int("FORJA_PORT", 8080, 0, 65535);
  if (overrides.port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) issues.push({ path: "--port", reason: "must be 0-65535" });
  const logLevelRaw = overrides.logLevel ?? env.FORJA_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(logLevelRaw as LogLevel)) issues.push({ path: "FORJA_LOG_LEVEL", reason: `must be one of ${LOG_LEVELS.join(", ")}` });
  const databaseUrl = overrides.databaseUrl ?? env.FORJA_DATABASE_URL ?? `sqlite:${join(dataDir, "forja.db")}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) issues.push({ path: "FORJA_DATABASE_URL", reason: "must start with sqlite: or postgres://" });
  const publicUrl = env.FORJA_PUBLIC_URL || undefined;
  if (publicUrl && !/^https?:\/\/[^/]+/.test(publicUrl)) issues.push({ path: "FORJA_PUBLIC_URL", reason: "must be an http(s) URL" });

  const config: ServerConfig = {
    dataDir,
    host,
    port,
    databaseUrl,
    logLevel: LOG_LEVELS.includes(logLevelRaw as LogLevel) ? (logLevelRaw as LogLevel) : "info",
    bodyLimitBytes: int("FORJA_BODY_LIMIT_BYTES", 1024 * 1024, 1024, 64 * 1024 * 1024),
    artifactMaxBytes: int("FORJA_ARTIFACT_MAX_BYTES", 5 * 1024 ** 3, 1, Number.MAX_SAFE_INTEGER),
    maxConcurrentWorkloads: int("FORJA_MAX_CONCURRENT_WORKLOADS", 8, 1, 1024),
    selfServiceProjects: bool("FORJA_SELF_SERVICE_PROJECTS", true),
    clientConfigPath: overrides.writeClientConfig === false ? undefined : defaultClientConfigPath(env),
    publicUrl,
  };
  if (issues.length) throw InvalidInputError.of(issues, "invalid configuration");
  return config;
}
