/**
 * What every CLI command gets: output, and a lazily built API client from the client
 * config ($FORJA_CONFIG) with FORJA_URL / FORJA_TOKEN / FORJA_PROJECT overrides. This is
 * the CLI's only reader of the environment.
 */
import { ForjaClient } from "../client/client.ts";
import { readClientConfig } from "../client/config.ts";
import { defaultClientConfigPath, type Env } from "../platform/config.ts";
import { InvalidInputError } from "../platform/errors.ts";
import type { Io } from "./output.ts";

export interface CliContext {
  readonly io: Io;
  readonly env: Env;
  readonly configPath: string;
  client(): ForjaClient;
  /** Project for commands that need one: --project, FORJA_PROJECT, the config's project, else "default". */
  project(flag?: string): string;
}

export function createCliContext(io: Io, env: Env): CliContext {
  const configPath = defaultClientConfigPath(env);
  let client: ForjaClient | undefined;
  const fileConfig = () => readClientConfig(configPath) ?? {};
  return {
    io,
    env,
    configPath,
    client() {
      if (client) return client;
      const file = fileConfig();
      const server = env.FORJA_URL || file.server;
      if (!server) {
        throw InvalidInputError.field("server", `no server configured: start one with 'forja up', or run 'forja login --server URL' (config: ${configPath})`);
      }
      const token = env.FORJA_TOKEN || file.token;
      client = new ForjaClient({ server, ...(token ? { token } : {}) });
      return client;
    },
    project(flag) {
      return flag || env.FORJA_PROJECT || fileConfig().project || "default";
    },
  };
}
