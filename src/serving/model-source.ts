/**
 * Where a deployment's model comes from: registry (alias or version) → the version's storage
 * location → the `.onnx` file among the version's artifacts (tracking_artifacts: path → digest)
 * → bytes from the content-addressed ArtifactStore.
 *
 * Convention: the version's artifact directory contains exactly one `.onnx` file, or a file
 * named `model.onnx` (preferred when there are several); a source that is itself a `.onnx`
 * file also works.
 */
import { sql } from "kysely";
import type { ArtifactStore, Digest } from "../artifacts/port.ts";
import type { Database } from "../store/database.ts";

export class ModelSourceError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}

export interface LocatedModel {
  readonly version: number;
  readonly path: string;
  readonly digest: Digest;
  readonly size: number;
}

export class ModelSource {
  constructor(
    private readonly database: Database,
    private readonly blobs: ArtifactStore,
  ) {}

  /** The version number a reference points at now. */
  async resolve(project: string, ref: { name: string; alias?: string | undefined; version?: number | undefined }): Promise<number> {
    const db = this.database.db;
    if (ref.alias !== undefined) {
      const row = await db
        .selectFrom("registered_model_aliases")
        .select("version")
        .where("project", "=", project)
        .where("name", "=", ref.name)
        .where("alias", "=", ref.alias)
        .executeTakeFirst();
      if (!row) {
        const model = await db.selectFrom("registered_models").select("name").where("project", "=", project).where("name", "=", ref.name).executeTakeFirst();
        if (!model) throw new ModelSourceError("ModelNotFound", `registered model "${ref.name}" does not exist in project "${project}"`);
        throw new ModelSourceError("AliasNotFound", `registered model "${ref.name}" has no alias "${ref.alias}"`);
      }
      return Number(row.version);
    }
    const version = ref.version ?? 0;
    const row = await db
      .selectFrom("model_versions")
      .select("version")
      .where("project", "=", project)
      .where("name", "=", ref.name)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!row) throw new ModelSourceError("VersionNotFound", `registered model "${ref.name}" has no version ${version} in project "${project}"`);
    return version;
  }

  /** Finds the version's `.onnx` artifact. */
  async locate(project: string, name: string, version: number): Promise<LocatedModel> {
    const db = this.database.db;
    const mv = await db
      .selectFrom("model_versions")
      .select(["storage_location"])
      .where("project", "=", project)
      .where("name", "=", name)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!mv) throw new ModelSourceError("VersionNotFound", `registered model "${name}" has no version ${version}`);
    const prefix = await artifactPathOf(this.database, project, mv.storage_location);
    const under = `${prefix}/`;
    // Only artifacts of the deployment's own project: a version registered with another
    // project's location must not serve what that project's members alone may read.
    const rows = await db
      .selectFrom("tracking_artifacts as a")
      .innerJoin("tracking_experiments as e", "e.experiment_id", "a.experiment_id")
      .select(["a.path", "a.digest", "a.size"])
      .where("e.project", "=", project)
      .where((eb) => eb.or([eb("a.path", "=", prefix), eb(sql`substr(a.path, 1, ${under.length})`, "=", under)]))
      .orderBy("a.path")
      .limit(10_000)
      .execute();
    const onnx = rows.filter((r) => r.path.toLowerCase().endsWith(".onnx"));
    const pick = onnx.find((r) => r.path === prefix) ?? onnx.find((r) => r.path === `${under}model.onnx`) ?? (onnx.length === 1 ? onnx[0] : undefined);
    if (!pick) {
      const why = onnx.length
        ? `several .onnx files (${onnx.map((r) => r.path.slice(under.length)).join(", ")}) and none is named model.onnx`
        : `no .onnx file among its ${rows.length} artifact(s)`;
      throw new ModelSourceError("NoOnnxModel", `version ${version} of "${name}" (${mv.storage_location}) has ${why}; log the model as <artifact dir>/model.onnx`);
    }
    return { version, path: pick.path, digest: pick.digest as Digest, size: Number(pick.size) };
  }

  async read(m: LocatedModel, maxBytes: number): Promise<Uint8Array> {
    if (m.size > maxBytes) throw new ModelSourceError("ModelTooLarge", `${m.path} is ${m.size} bytes; the serving limit is ${maxBytes}`);
    const stream = await this.blobs.get(m.digest);
    const chunks: Buffer[] = [];
    for await (const c of stream) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }
}

/**
 * A model version's storage location → its tracking artifact path: `mlflow-artifacts:/<path>`,
 * or `runs:/<run>/<path>` for a run of `project`. Throws ModelSourceError otherwise.
 */
export async function artifactPathOf(database: Database, project: string, location: string): Promise<string> {
  const art = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.*?)\/*$/u.exec(location);
  if (art) return art[1] ?? "";
  const runs = /^runs:\/+([^/]+)(?:\/(.*?))?\/*$/u.exec(location);
  if (runs) {
    const run = await database.db.selectFrom("tracking_runs").select("artifact_uri").where("run_id", "=", runs[1] ?? "").where("project", "=", project).executeTakeFirst();
    if (!run) throw new ModelSourceError("RunNotFound", `the source run ${runs[1]} of ${location} does not exist in project "${project}"`);
    const root = /^mlflow-artifacts:(?:\/\/[^/]*)?\/+(.*?)\/*$/u.exec(run.artifact_uri)?.[1];
    if (root === undefined) throw new ModelSourceError("UnsupportedSource", `run artifact root ${run.artifact_uri} is not served by this server`);
    return runs[2] ? `${root}/${runs[2]}` : root;
  }
  throw new ModelSourceError("UnsupportedSource", `model source ${location} is not on this server: register a runs:/ or mlflow-artifacts:/ source`);
}
