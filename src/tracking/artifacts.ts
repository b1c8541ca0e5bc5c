/**
 * mlflow-artifacts: uploads stream into the content-addressed ArtifactStore; names live in
 * tracking_artifacts (path → digest). A path is "<experiment id>/<...>"; the experiment is
 * authorized (viewer reads, editor writes). Paths with `..`, `.`, empty segments, absolute
 * paths, backslashes, `#`, `file:` or control characters are refused (also when encoded).
 *
 * The stored key is never the wire path: once the experiment is authorized, the path's leading
 * id is replaced by the resolved experiment's own id (`storedPath`), and every statement also
 * filters on experiment_id. "0" (the URI project's Default experiment, so a different
 * experiment per project) and non-canonical ids such as "007" therefore name the same row as
 * the real id, and never another project's.
 */
import { basename, extname } from "node:path";
import { sql } from "kysely";
import type { ArtifactStore, Digest } from "../artifacts/port.ts";
import { MlflowError, optString, runIdOf, type CallScope, type MlflowCall, type RunRow } from "../mlflow/index.ts";
import type { ExperimentRow, TrackingAccess } from "../mlflow/index.ts";
import { PayloadTooLargeError } from "../platform/errors.ts";
import type { Database } from "../store/database.ts";

function fullyDecoded(p: string): string {
  let cur = p;
  for (let i = 0; i < 5; i++) {
    let next: string;
    try {
      next = decodeURIComponent(cur);
    } catch {
      return cur;
    }
    if (next === cur) return cur;
    cur = next;
  }
  return cur;
}

/** Validates a relative artifact path; returns it with its experiment id. */
export function checkArtifactPath(path: string, field = "path"): { experimentId: string; path: string } {
  const bad = (why: string): never => {
    throw MlflowError.invalid(`Invalid value '${path}' for parameter '${field}': ${why}`);
  };
  for (const form of [path, fullyDecoded(path)]) {
    if (form.startsWith("/") || /^[a-zA-Z]:/.test(form)) bad("must be a relative path");
    if (form.includes("\\")) bad("must not contain backslashes");
    if (form.includes("#")) bad("must not contain '#'");
    if (/^file:/i.test(form) || form.includes("://")) bad("must not be a URI");
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(form)) bad("must not contain control characters");
    if (form.split("/").some((s) => s === ".." || s === ".")) bad("must not contain '.' or '..' segments");
  }
  if (path.split("/").some((s) => s === "")) bad("must not contain empty segments");
  const experimentId = path.split("/")[0] as string;
  if (!/^\d{1,15}$/.test(experimentId)) bad("must start with an experiment id");
  return { experimentId, path };
}

/** `path` ("<wire id>/<rest>", checked) with its leading id replaced by the resolved experiment's id. */
function storedPath(path: string, experimentId: number): string {
  const slash = path.indexOf("/");
  return slash < 0 ? String(experimentId) : `${experimentId}${path.slice(slash)}`;
}

const TYPES: Readonly<Record<string, string>> = {
  ".txt": "text/plain",
  ".log": "text/plain",
  ".json": "application/json",
  ".yaml": "text/yaml",
  ".yml": "text/yaml",
  ".csv": "text/csv",
  ".html": "text/html",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".svg": "image/svg+xml",
  ".pdf": "application/pdf",
};

export interface FileInfo {
  path: string;
  is_dir: boolean;
  file_size?: number;
}

export class ArtifactService {
  constructor(
    private readonly database: Database,
    private readonly blobs: ArtifactStore,
    private readonly access: TrackingAccess,
    private readonly maxBytes: number,
  ) {}

  private wildcard(call: MlflowCall): string {
    const raw = call.request.raw.url ?? "";
    const pathPart = raw.split("?")[0] ?? "";
    const marker = "/mlflow-artifacts/artifacts/";
    const at = pathPart.indexOf(marker);
    const encoded = at >= 0 ? pathPart.slice(at + marker.length) : (call.params["*"] ?? "");
    try {
      return decodeURIComponent(encoded);
    } catch {
      throw MlflowError.invalid(`Invalid artifact path '${encoded}': bad percent-encoding`);
    }
  }

  /**
   * A wire path checked, its experiment authorized for `verb`, and the key it is stored under:
   * the experiment's own id in place of the wire's ("0", "007").
   */
  private async authorized(call: MlflowCall, wirePath: string, verb: "get" | "update"): Promise<{ exp: ExperimentRow; path: string; wire: string }> {
    const checked = checkArtifactPath(wirePath);
    const exp = await this.access.experiment(call, checked.experimentId, verb);
    return { exp, path: storedPath(checked.path, exp.experiment_id), wire: checked.path };
  }

  async upload(call: MlflowCall): Promise<void> {
    const { exp, path } = await this.authorized(call, this.wildcard(call), "update");
    const declared = Number(call.request.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > this.maxBytes) {
      call.request.raw.resume();
      void call.reply.header("connection", "close");
      throw new PayloadTooLargeError(`artifact is larger than the limit of ${this.maxBytes} bytes`);
    }
    let info;
    try {
      info = await this.blobs.put(call.request.raw, { maxBytes: this.maxBytes });
    } catch (e) {
      // Drain the rest of the upload so the client reads our answer instead of blocking on send.
      call.request.raw.resume();
      void call.reply.header("connection", "close");
      throw e;
    }
    await this.database.db
      .insertInto("tracking_artifacts")
      .values({ path, experiment_id: exp.experiment_id, digest: info.digest, size: info.size, created_at: Date.now() })
      .onConflict((oc) =>
        oc
          .column("path")
          .doUpdateSet((eb) => ({ digest: eb.ref("excluded.digest"), size: eb.ref("excluded.size"), created_at: eb.ref("excluded.created_at") }))
          // The path starts with this experiment's id, so the row is this experiment's; never move one.
          .where("tracking_artifacts.experiment_id", "=", exp.experiment_id),
      )
      .execute();
    await call.reply.status(200).type("application/json").send("{}");
  }

  async download(call: MlflowCall): Promise<void> {
    const { exp, path, wire } = await this.authorized(call, this.wildcard(call), "get");
    const row = await this.database.db
      .selectFrom("tracking_artifacts")
      .selectAll()
      .where("experiment_id", "=", exp.experiment_id)
      .where("path", "=", path)
      .executeTakeFirst();
    if (!row) throw MlflowError.notFound(`Artifact '${wire}' does not exist`);
    const stream = await this.blobs.get(row.digest as Digest);
    const name = basename(path).replace(/["\\\r\n]/g, "_");
    await call.reply
      .status(200)
      .header("content-type", TYPES[extname(path).toLowerCase()] ?? "application/octet-stream")
      .header("content-disposition", `attachment; filename="${name}"`)
      .header("x-content-type-options", "nosniff")
      .header("content-length", String(row.size))
      .send(stream);
  }

  async delete(call: MlflowCall): Promise<undefined> {
    const { exp, path } = await this.authorized(call, this.wildcard(call), "update");
    const prefix = `${path}/`;
    await this.database.db
      .deleteFrom("tracking_artifacts")
      .where("experiment_id", "=", exp.experiment_id)
      .where((eb) => eb.or([eb("path", "=", path), eb(sql`substr(path, 1, ${prefix.length})`, "=", prefix)]))
      .execute();
    return undefined;
  }

  /** Entries directly under `dir` (relative to the artifact root); paths are relative to `relativeTo`. */
  async listDir(experimentId: number, dir: string, relativeTo: string): Promise<FileInfo[]> {
    const prefix = dir === "" ? "" : `${dir}/`;
    const rows = await this.database.db
      .selectFrom("tracking_artifacts")
      .select(["path", "size"])
      .where("experiment_id", "=", experimentId)
      .where(sql<boolean>`substr(path, 1, ${prefix.length}) = ${prefix}`)
      .orderBy("path")
      .execute();
    const out = new Map<string, FileInfo>();
    const rel = relativeTo === "" ? "" : `${relativeTo}/`;
    for (const r of rows) {
      const rest = r.path.slice(prefix.length);
      const slash = rest.indexOf("/");
      const child = slash < 0 ? rest : rest.slice(0, slash);
      const full = `${prefix}${child}`;
      const shown = full.startsWith(rel) ? full.slice(rel.length) : full;
      if (slash < 0) out.set(child, { path: shown, is_dir: false, file_size: Number(r.size) });
      else if (!out.has(child)) out.set(child, { path: shown, is_dir: true });
    }
    return [...out.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  }

  /** GET mlflow-artifacts/artifacts?path=<dir>: basenames. */
  async list(call: MlflowCall): Promise<object> {
    const raw = optString(call.input, "path") ?? "";
    const dir = raw.replace(/\/+$/, "");
    if (dir === "") return {};
    const { exp, path } = await this.authorized(call, dir, "get");
    const files = await this.listDir(exp.experiment_id, path, path);
    return files.length ? { files } : {};
  }

  /** GET mlflow/artifacts/list?run_id=&path=: paths relative to the run's artifact root. */
  async listRun(call: CallScope & { input: MlflowCall["input"] }): Promise<object> {
    const run: RunRow = await this.access.run(call, runIdOf(call.input), "get");
    const sub = (optString(call.input, "path") ?? "").replace(/^\/+|\/+$/g, "");
    const root = `${run.experiment_id}/${run.run_id}/artifacts`;
    if (sub) checkArtifactPath(`${root}/${sub}`);
    const files = await this.listDir(run.experiment_id, sub ? `${root}/${sub}` : root, root);
    return { root_uri: run.artifact_uri, ...(files.length ? { files } : {}) };
  }
}
