/** get, describe, apply, delete: the generic resource commands. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { extname, join } from "node:path";
import type { Command } from "commander";
import { parseAllDocuments } from "yaml";
import type { KindInfo } from "../../client/client.ts";
import { InvalidInputError } from "../../platform/errors.ts";
import type { Resource } from "../../resources/model.ts";
import type { CliContext } from "../context.ts";
import { OUTPUT_FORMATS, age, formatCell, getPath, table, toJson, toYaml, type OutputFormat } from "../output.ts";

type Run = (p: Promise<number>) => void;

export function parseOutput(v: string): OutputFormat {
  if (!OUTPUT_FORMATS.includes(v as OutputFormat)) throw InvalidInputError.field("-o", `must be one of ${OUTPUT_FORMATS.join(", ")}`);
  return v as OutputFormat;
}

export function printResources(ctx: CliContext, kind: KindInfo, items: Resource[], format: OutputFormat, opts: { single?: boolean; showProject?: boolean } = {}): void {
  switch (format) {
    case "json":
      ctx.io.out(toJson(opts.single ? items[0] : { apiVersion: "forja.dev/v1", kind: `${kind.kind}List`, items }));
      return;
    case "yaml":
      ctx.io.out(toYaml(opts.single ? items[0] : { apiVersion: "forja.dev/v1", kind: `${kind.kind}List`, items }));
      return;
    case "name":
      for (const r of items) ctx.io.out(`${kind.singular}/${r.metadata.name}`);
      return;
    case "table":
    case "wide": {
      if (items.length === 0) {
        ctx.io.err(`No ${kind.plural} found.`);
        return;
      }
      const showProject = kind.scope === "Project" && opts.showProject;
      const cols = kind.columns;
      const header = [...(showProject ? ["PROJECT"] : []), "NAME", ...cols.map((c) => c.header)];
      if (!cols.some((c) => c.header === "AGE")) header.push("AGE");
      const rows = items.map((r) => {
        const row = [...(showProject ? [r.metadata.project ?? ""] : []), r.metadata.name, ...cols.map((c) => formatCell(getPath(r, c.path), c.format))];
        if (!cols.some((c) => c.header === "AGE")) row.push(age(r.metadata.createdAt));
        return row;
      });
      ctx.io.out(table(header, rows));
      return;
    }
  }
}

/** A "List" document, or what `get -o yaml|json` prints for many resources ("ProjectList"). */
function isList(v: unknown): v is { items: unknown[] } {
  if (typeof v !== "object" || v === null) return false;
  const d = v as { kind?: unknown; items?: unknown };
  return typeof d.kind === "string" && /^([A-Z][A-Za-z0-9]*)?List$/.test(d.kind) && Array.isArray(d.items) && !("spec" in d);
}

/** Reads manifests from files, directories (their *.yaml, *.yml, *.json) or "-" (stdin). */
export function readManifests(paths: string[], recursive: boolean, stdin: () => string): { source: string; doc: unknown }[] {
  const files: string[] = [];
  const walk = (p: string, top: boolean) => {
    const st = statSync(p, { throwIfNoEntry: false });
    if (!st) throw InvalidInputError.field("-f", `${p}: no such file or directory`);
    if (st.isDirectory()) {
      if (!top && !recursive) return;
      for (const e of readdirSync(p).sort()) {
        const child = join(p, e);
        const cst = statSync(child);
        if (cst.isDirectory()) walk(child, false);
        else if ([".yaml", ".yml", ".json"].includes(extname(e))) files.push(child);
      }
    } else files.push(p);
  };
  for (const p of paths) {
    if (p === "-") files.push("-");
    else walk(p, true);
  }
  const out: { source: string; doc: unknown }[] = [];
  for (const f of files) {
    const text = f === "-" ? stdin() : readFileSync(f, "utf8");
    const source = f === "-" ? "<stdin>" : f;
    for (const [i, d] of parseAllDocuments(text).entries()) {
      const err = d.errors[0];
      if (err) {
        const pos = err.linePos?.[0];
        const reason = (err.message.split("\n")[0] ?? "").replace(/\s*at line \d+, column \d+:?\s*$/, "");
        throw InvalidInputError.field(source, `invalid YAML${pos ? ` at line ${pos.line}, column ${pos.col}` : ""}: ${reason}`);
      }
      let v: unknown;
      try {
        v = d.toJS({ maxAliasCount: 100 });
      } catch (e) {
        throw InvalidInputError.field(source, `invalid YAML: ${(e as Error).message.split("\n")[0]}`);
      }
      if (v === null || v === undefined) continue;
      const docs = Array.isArray(v) ? v : isList(v) ? v.items : [v];
      for (const doc of docs) out.push({ source: `${source}${i > 0 ? `#${i + 1}` : ""}`, doc });
    }
  }
  if (out.length === 0) throw InvalidInputError.field("-f", "no resources found in the given files");
  return out;
}

export function registerResourceCommands(program: Command, ctx: CliContext, run: Run, stdin: () => string): void {
  program
    .command("get")
    .description("list resources of a kind, or show one")
    .argument("<kind>", "e.g. projects, users, pipelines, pipelineruns")
    .argument("[name]", "one resource")
    .option("-p, --project <project>", "project (default from config)")
    .option("-A, --all-projects", "list across every project you can read")
    .option("-l, --selector <selector>", "label selector, e.g. app=etl,tier!=dev")
    .option("-o, --output <format>", "table|wide|json|yaml|name", "table")
    .action((kindName: string, name: string | undefined, opts: { project?: string; allProjects?: boolean; selector?: string; output: string }) =>
      run(
        (async () => {
          const format = parseOutput(opts.output);
          const client = ctx.client();
          [kindName, name] = splitKindName(kindName, name);
          const kind = await client.resolveKind(kindName);
          const project = kind.scope === "Project" && !opts.allProjects ? ctx.project(opts.project) : undefined;
          if (name) {
            const r = await client.get(kind.kind, name, project);
            printResources(ctx, kind, [r], format, { single: true });
            return 0;
          }
          const items = await client.listAll(kind.kind, { ...(project ? { project } : {}), ...(opts.selector ? { labelSelector: opts.selector } : {}) });
          printResources(ctx, kind, items, format, { showProject: !project });
          return 0;
        })(),
      ),
    );

  program
    .command("describe")
    .description("show one resource in full: metadata, spec and status")
    .argument("<kind>", "a kind, or KIND/NAME")
    .argument("[name]")
    .option("-p, --project <project>", "project (default from config)")
    .action((kindArg: string, nameArg: string | undefined, opts: { project?: string }) =>
      run(
        (async () => {
          const client = ctx.client();
          const [kindName, name] = splitKindName(kindArg, nameArg);
          if (!name) throw InvalidInputError.field("name", "usage: forja describe KIND NAME (or KIND/NAME)");
          const kind = await client.resolveKind(kindName);
          const r = await client.get(kind.kind, name, kind.scope === "Project" ? ctx.project(opts.project) : undefined);
          ctx.io.out(describe(kind, r));
          return 0;
        })(),
      ),
    );

  program
    .command("apply")
    .description("create or update resources from YAML/JSON files (all or nothing)")
    .requiredOption("-f, --filename <path...>", "file, directory, or - for stdin")
    .option("-R, --recursive", "also read sub-directories")
    .option("-p, --project <project>", "project for documents that do not name one")
    .option("-o, --output <format>", "table|json|yaml|name", "table")
    .action((opts: { filename: string[]; recursive?: boolean; project?: string; output: string }) =>
      run(
        (async () => {
          const format = parseOutput(opts.output);
          const client = ctx.client();
          const manifests = readManifests(opts.filename, opts.recursive === true, stdin);
          const kinds = await client.kinds();
          const defaultProject = ctx.project(opts.project);
          const docs = manifests.map(({ doc }) => {
            const d = doc as { kind?: unknown; metadata?: { project?: unknown } };
            const k = kinds.find((k) => k.kind === d.kind);
            if (k?.scope === "Project" && d.metadata && typeof d.metadata === "object" && d.metadata.project === undefined) {
              d.metadata.project = defaultProject;
            }
            return doc;
          });
          const res = await client.apply(docs);
          if (format === "json" || format === "yaml") {
            ctx.io.out(format === "json" ? toJson(res) : toYaml(res));
          } else {
            for (const { action, resource } of res.items) {
              const k = kinds.find((k) => k.kind === resource.kind);
              const where = resource.metadata.project ? ` (project ${resource.metadata.project})` : "";
              ctx.io.out(`${k?.singular ?? resource.kind.toLowerCase()}/${resource.metadata.name} ${action}${format === "name" ? "" : where}`);
            }
          }
          return 0;
        })(),
      ),
    );

  program
    .command("delete")
    .description("delete a resource (or every resource in files with -f)")
    .argument("[kind]", "a kind, or KIND/NAME")
    .argument("[name]")
    .option("-f, --filename <path...>", "delete what these files describe")
    .option("-p, --project <project>", "project (default from config)")
    .action((kindName: string | undefined, name: string | undefined, opts: { filename?: string[]; project?: string }) =>
      run(
        (async () => {
          const client = ctx.client();
          const targets: { kind: string; name: string; project?: string }[] = [];
          if (opts.filename) {
            for (const { source, doc } of readManifests(opts.filename, false, stdin)) {
              const d = doc as { kind?: unknown; metadata?: { name?: unknown; project?: unknown } } | null;
              if (typeof d?.kind !== "string" || d.kind === "") throw InvalidInputError.field(`${source}: kind`, "is required to say what to delete");
              const meta = d.metadata;
              if (typeof meta?.name !== "string" || meta.name === "") throw InvalidInputError.field(`${source}: metadata.name`, "is required to say what to delete");
              targets.push({ kind: d.kind, name: meta.name, ...(typeof meta.project === "string" && meta.project ? { project: meta.project } : {}) });
            }
          } else {
            const [k, n] = kindName ? splitKindName(kindName, name) : [undefined, undefined];
            if (!k || !n) throw InvalidInputError.field("arguments", "usage: forja delete KIND NAME, or forja delete -f FILE");
            targets.push({ kind: k, name: n });
          }
          for (const t of targets) {
            const kind = await client.resolveKind(t.kind);
            const r = await client.delete(kind.kind, t.name, kind.scope === "Project" ? (t.project ?? ctx.project(opts.project)) : undefined);
            ctx.io.out(`${kind.singular}/${t.name} ${r.metadata.deletionTimestamp ? "deleting" : "deleted"}`);
          }
          return 0;
        })(),
      ),
    );
}

/** kubectl-style "run/etl-x1y2z" as one argument. */
export function splitKindName(kind: string, name: string | undefined): [string, string | undefined] {
  const slash = kind.indexOf("/");
  if (slash > 0 && name === undefined) return [kind.slice(0, slash), kind.slice(slash + 1)];
  return [kind, name];
}

export function describe(kind: KindInfo, r: Resource): string {
  const m = r.metadata;
  const lines = [
    `Name:         ${m.name}`,
    ...(m.project ? [`Project:      ${m.project}`] : []),
    `Kind:         ${r.kind}`,
    `UID:          ${m.uid}`,
    `Created:      ${m.createdAt} (${age(m.createdAt)} ago)`,
    `Updated:      ${m.updatedAt}`,
    `Generation:   ${m.generation}   ResourceVersion: ${m.resourceVersion}`,
    ...(m.deletionTimestamp ? [`Deleting:     since ${m.deletionTimestamp}`] : []),
    `Labels:       ${Object.entries(m.labels).map(([k, v]) => `${k}=${v}`).join(", ") || "<none>"}`,
    `Annotations:  ${Object.keys(m.annotations).length ? Object.entries(m.annotations).map(([k, v]) => `${k}=${v}`).join(", ") : "<none>"}`,
    "Spec:",
    indent(toYaml(r.spec)),
    "Status:",
    indent(toYaml(r.status)),
  ];
  void kind;
  return lines.join("\n");
}

function indent(s: string): string {
  return s
    .split("\n")
    .map((l) => `  ${l}`)
    .join("\n");
}
