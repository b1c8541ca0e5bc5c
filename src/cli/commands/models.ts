/** forja models: the model registry (list, versions, aliases, stages) over the native API. */
import type { Command } from "commander";
import { InvalidInputError } from "../../platform/errors.ts";
import type { ModelVersion, RegisteredModel } from "../../registry/model.ts";
import type { CliContext } from "../context.ts";
import { age, table, toJson, toYaml } from "../output.ts";

type Run = (p: Promise<number>) => void;
type Format = "table" | "json" | "yaml";

function parseFormat(v: string): Format {
  if (v !== "table" && v !== "json" && v !== "yaml") throw InvalidInputError.field("-o", "must be one of table, json, yaml");
  return v;
}

const modelsPath = (project: string) => `/api/v1/projects/${encodeURIComponent(project)}/models`;
const modelPath = (project: string, name: string) => `${modelsPath(project)}/${encodeURIComponent(name)}`;
const when = (ms: number) => age(new Date(ms).toISOString());

function print(ctx: CliContext, format: Format, value: unknown, asTable: () => string): void {
  if (format === "json") ctx.io.out(toJson(value));
  else if (format === "yaml") ctx.io.out(toYaml(value));
  else ctx.io.out(asTable());
}

function versionsTable(versions: readonly ModelVersion[]): string {
  return table(
    ["VERSION", "STAGE", "ALIASES", "RUN", "SOURCE", "AGE"],
    versions.map((v) => [v.version, v.current_stage, (v.aliases ?? []).join(","), v.run_id ?? "", v.source, when(v.creation_timestamp)]),
  );
}

function versionArg(v: string): string {
  if (!/^[1-9]\d*$/.test(v)) throw InvalidInputError.field("VERSION", `"${v}" is not a version number`);
  return v;
}

export function registerModelCommands(program: Command, ctx: CliContext, run: Run): void {
  const models = program.command("models").description("the model registry: registered models, versions, aliases and stages");
  const common = (c: Command) => c.option("-p, --project <project>", "project (default from config)").option("-o, --output <format>", "table|json|yaml", "table");

  common(models.command("list").description("registered models of the project").option("--filter <filter>", "MLflow filter, e.g. \"name LIKE 'fraud%'\"")).action(
    (opts: { project?: string; output: string; filter?: string }) =>
      run(
        (async () => {
          const format = parseFormat(opts.output);
          const page = await ctx.client().request<{ items: RegisteredModel[] }>("GET", modelsPath(ctx.project(opts.project)), {
            query: { filter: opts.filter },
          });
          print(ctx, format, page, () =>
            table(
              ["NAME", "LATEST", "ALIASES", "DESCRIPTION", "UPDATED"],
              page.items.map((m) => [
                m.name,
                (m.latest_versions ?? []).reduce((max, v) => Math.max(max, Number(v.version)), 0).toString().replace(/^0$/, ""),
                (m.aliases ?? []).map((a) => `${a.alias}=${a.version}`).join(","),
                (m.description ?? "").split("\n")[0]!.slice(0, 50),
                when(m.last_updated_timestamp),
              ]),
            ),
          );
          return 0;
        })(),
      ),
  );

  common(models.command("versions").description("versions of a registered model, newest first").argument("<name>")).action(
    (name: string, opts: { project?: string; output: string }) =>
      run(
        (async () => {
          const format = parseFormat(opts.output);
          const res = await ctx.client().request<{ items: ModelVersion[] }>("GET", `${modelPath(ctx.project(opts.project), name)}/versions`);
          print(ctx, format, res, () => versionsTable(res.items));
          return 0;
        })(),
      ),
  );

  const alias = models.command("alias").description("point aliases (e.g. champion) at versions");
  common(alias.command("set").description("point ALIAS at VERSION (moves it if set)").argument("<name>").argument("<alias>").argument("<version>")).action(
    (name: string, aliasName: string, version: string, opts: { project?: string; output: string }) =>
      run(
        (async () => {
          const format = parseFormat(opts.output);
          const mv = await ctx.client().request<ModelVersion>("PUT", `${modelPath(ctx.project(opts.project), name)}/aliases/${encodeURIComponent(aliasName)}`, {
            body: { version: versionArg(version) },
          });
          print(ctx, format, mv, () => `${name}@${aliasName} → version ${mv.version}`);
          return 0;
        })(),
      ),
  );
  alias
    .command("delete")
    .description("remove ALIAS")
    .argument("<name>")
    .argument("<alias>")
    .option("-p, --project <project>", "project (default from config)")
    .action((name: string, aliasName: string, opts: { project?: string }) =>
      run(
        (async () => {
          await ctx.client().request("DELETE", `${modelPath(ctx.project(opts.project), name)}/aliases/${encodeURIComponent(aliasName)}`);
          ctx.io.out(`${name}@${aliasName} deleted`);
          return 0;
        })(),
      ),
    );

  common(
    models
      .command("stage")
      .description("move a version to a stage: None, Staging, Production or Archived")
      .argument("<name>")
      .argument("<version>")
      .argument("<stage>")
      .option("--archive-existing", "archive the other versions in that stage"),
  ).action((name: string, version: string, stage: string, opts: { project?: string; output: string; archiveExisting?: boolean }) =>
    run(
      (async () => {
        const format = parseFormat(opts.output);
        const mv = await ctx.client().request<ModelVersion>("POST", `${modelPath(ctx.project(opts.project), name)}/versions/${versionArg(version)}/stage`, {
          body: { stage, archiveExisting: opts.archiveExisting === true },
        });
        print(ctx, format, mv, () => `${name} version ${mv.version} → ${mv.current_stage}`);
        return 0;
      })(),
    ),
  );
}
