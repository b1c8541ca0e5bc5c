/** login, whoami, token create|list|revoke. */
import type { Command } from "commander";
import { ForjaClient } from "../../client/client.ts";
import { readClientConfig, writeClientConfig } from "../../client/config.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { CliContext } from "../context.ts";
import { age, table, toJson, toYaml } from "../output.ts";
import { parseOutput } from "./resources.ts";

type Run = (p: Promise<number>) => void;

/** "30d", "12h", "90m", "3600s" or a bare number of seconds. */
export function parseDurationSeconds(v: string, field: string): number {
  const m = v.trim().match(/^(\d+)\s*(s|m|h|d|w)?$/);
  if (!m) throw InvalidInputError.field(field, `"${v}" is not a duration like 3600s, 90m, 12h, 30d`);
  const n = Number(m[1]);
  const mult = { s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[(m[2] ?? "s") as "s"];
  if (n <= 0) throw InvalidInputError.field(field, "must be positive");
  return n * mult;
}

export function registerAuthCommands(program: Command, ctx: CliContext, run: Run, stdin: () => string): void {
  program
    .command("login")
    .description("save a server URL and token to the client config, after checking them")
    .requiredOption("--server <url>", "e.g. http://127.0.0.1:8080")
    .option("--token <token>", "API token; - reads it from stdin (default: FORJA_TOKEN)")
    .option("-p, --project <project>", "default project for commands")
    .action((opts: { server: string; token?: string; project?: string }) =>
      run(
        (async () => {
          const token = opts.token === "-" ? stdin().trim() : (opts.token ?? ctx.env.FORJA_TOKEN);
          if (!token) throw InvalidInputError.field("--token", "is required (or set FORJA_TOKEN, or pass - to read it from stdin)");
          const client = new ForjaClient({ server: opts.server, token });
          const me = await client.whoami();
          const existing = readClientConfig(ctx.configPath) ?? {};
          writeClientConfig(ctx.configPath, { ...existing, server: client.server, token, ...(opts.project ? { project: opts.project } : {}) });
          ctx.io.out(`logged in to ${client.server} as ${me.user}${me.admin ? " (admin)" : ""}; config: ${ctx.configPath}`);
          return 0;
        })(),
      ),
    );

  program
    .command("whoami")
    .description("who the configured token belongs to, and its projects")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action((opts: { output: string }) =>
      run(
        (async () => {
          const format = parseOutput(opts.output);
          const me = await ctx.client().whoami();
          if (format === "json") ctx.io.out(toJson(me));
          else if (format === "yaml") ctx.io.out(toYaml(me));
          else {
            ctx.io.out(`user: ${me.user}${me.admin ? " (platform admin)" : ""}`);
            if (me.projects.length) ctx.io.out(table(["PROJECT", "ROLE"], me.projects.map((p) => [p.name, p.role])));
          }
          return 0;
        })(),
      ),
    );

  const token = program.command("token").description("manage API tokens");
  token
    .command("create")
    .description("create a token; it is printed once")
    .requiredOption("--name <name>", "a name to recognise it by, e.g. ci")
    .option("--user <user>", "for another user (admins)")
    .option("--expires-in <duration>", "e.g. 30d, 12h")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action((opts: { name: string; user?: string; expiresIn?: string; output: string }) =>
      run(
        (async () => {
          const format = parseOutput(opts.output);
          const created = await ctx.client().createToken({
            name: opts.name,
            ...(opts.user ? { user: opts.user } : {}),
            ...(opts.expiresIn ? { expiresInSeconds: parseDurationSeconds(opts.expiresIn, "--expires-in") } : {}),
          });
          if (format === "json") ctx.io.out(toJson(created));
          else if (format === "yaml") ctx.io.out(toYaml(created));
          else {
            ctx.io.out(created.token);
            ctx.io.err(`token "${created.name}" for ${created.user} (id ${created.id})${created.expiresAt ? `, expires ${created.expiresAt}` : ""}. It is shown only now.`);
          }
          return 0;
        })(),
      ),
    );
  token
    .command("list")
    .description("list tokens (never their secrets)")
    .option("--user <user>", "another user's (admins)")
    .option("--all", "include revoked tokens")
    .option("-o, --output <format>", "table|json|yaml", "table")
    .action((opts: { user?: string; all?: boolean; output: string }) =>
      run(
        (async () => {
          const format = parseOutput(opts.output);
          const items = await ctx.client().listTokens({ ...(opts.user ? { user: opts.user } : {}), ...(opts.all ? { includeRevoked: true } : {}) });
          if (format === "json") ctx.io.out(toJson(items));
          else if (format === "yaml") ctx.io.out(toYaml(items));
          else
            ctx.io.out(
              table(
                ["ID", "NAME", "USER", "PREFIX", "AGE", "EXPIRES", "LAST USED", "REVOKED"],
                items.map((t) => [t.id, t.name, t.user, `${t.prefix}…`, age(t.createdAt), t.expiresAt ?? "never", t.lastUsedAt ? `${age(t.lastUsedAt)} ago` : "", t.revokedAt ?? ""]),
              ),
            );
          return 0;
        })(),
      ),
    );
  token
    .command("revoke")
    .description("revoke a token by id (or by name, for your own)")
    .argument("<id>")
    .action((id: string) =>
      run(
        (async () => {
          const t = await ctx.client().revokeToken(id);
          ctx.io.out(`token "${t.name}" (${t.id}) revoked`);
          return 0;
        })(),
      ),
    );
}
