/**
 * A model version's reference dataset: `reference.json` in the version's artifact directory
 * (beside model.onnx), written at training time by the SDK's `logReferenceData`. Found through
 * the version's storage location (runs:/… or mlflow-artifacts:/…) → tracking_artifacts →
 * the content-addressed blob. Parsed documents are cached by digest (a few, bounded).
 */
import type { ArtifactStore, Digest } from "../artifacts/port.ts";
import { artifactPathOf, ModelSourceError } from "../serving/model-source.ts";
import type { Database } from "../store/database.ts";

export const REFERENCE_FILE = "reference.json";
export const REFERENCE_FORMAT = "forja.reference/v1";

export type ReferenceValue = number | string | boolean | null;

export interface ReferenceDataset {
  readonly features: readonly string[];
  readonly input?: string;
  readonly rows: readonly (readonly ReferenceValue[])[];
  /** Where it was found (tracking artifact path) and its digest. */
  readonly path: string;
  readonly digest: string;
}

export class ReferenceError extends Error {}

const MAX_REFERENCE_BYTES = 64 * 1024 * 1024;

export class ReferenceStore {
  private readonly cache = new Map<string, ReferenceDataset>();

  constructor(
    private readonly database: Database,
    private readonly blobs: ArtifactStore,
  ) {}

  /** The reference of a model version, or undefined when the version has none. */
  async forVersion(project: string, model: string, version: number): Promise<ReferenceDataset | undefined> {
    const db = this.database.db;
    const mv = await db
      .selectFrom("model_versions")
      .select(["storage_location"])
      .where("project", "=", project)
      .where("name", "=", model)
      .where("version", "=", version)
      .executeTakeFirst();
    if (!mv) return undefined;
    let prefix: string;
    try {
      prefix = await artifactPathOf(this.database, project, mv.storage_location);
    } catch (e) {
      if (e instanceof ModelSourceError) return undefined;
      throw e;
    }
    const path = `${prefix}/${REFERENCE_FILE}`;
    // Only an artifact of the version's own project (as for the model itself, ModelSource).
    const row = await db
      .selectFrom("tracking_artifacts as a")
      .innerJoin("tracking_experiments as e", "e.experiment_id", "a.experiment_id")
      .select(["a.digest", "a.size"])
      .where("a.path", "=", path)
      .where("e.project", "=", project)
      .executeTakeFirst();
    if (!row) return undefined;
    const hit = this.cache.get(row.digest);
    if (hit) return hit;
    if (Number(row.size) > MAX_REFERENCE_BYTES) throw new ReferenceError(`${path} is ${row.size} bytes; the limit is ${MAX_REFERENCE_BYTES}`);
    const chunks: Buffer[] = [];
    for await (const c of await this.blobs.get(row.digest as Digest)) chunks.push(c as Buffer);
    const ref = parseReference(Buffer.concat(chunks).toString("utf8"), path, row.digest);
    if (this.cache.size >= 16) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(row.digest, ref);
    return ref;
  }
}

/** Validates a reference.json document. */
export function parseReference(text: string, path: string, digest: string): ReferenceDataset {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new ReferenceError(`${path} is not valid JSON: ${(e as Error).message}`);
  }
  const d = doc as { format?: unknown; features?: unknown; input?: unknown; rows?: unknown };
  if (typeof d !== "object" || d === null) throw new ReferenceError(`${path}: expected an object {format, features, rows}`);
  if (d.format !== REFERENCE_FORMAT) throw new ReferenceError(`${path}: format must be "${REFERENCE_FORMAT}"`);
  if (!Array.isArray(d.features) || d.features.length === 0 || !d.features.every((f) => typeof f === "string")) {
    throw new ReferenceError(`${path}: features must be a non-empty array of names`);
  }
  const n = d.features.length;
  if (!Array.isArray(d.rows) || !d.rows.every((r) => Array.isArray(r) && r.length === n)) throw new ReferenceError(`${path}: rows must be arrays of ${n} values`);
  return {
    features: d.features,
    ...(typeof d.input === "string" ? { input: d.input } : {}),
    rows: d.rows as ReferenceValue[][],
    path,
    digest,
  };
}

