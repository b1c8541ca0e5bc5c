/**
 * How the CLI shows things: tables, JSON, YAML, and the one mapping from errors to a
 * one-line message and an exit code.
 */
import { stringify } from "yaml";
import { ErrorCode, isForjaError } from "../platform/errors.ts";
import type { PrintColumn } from "../resources/kinds.ts";

export type OutputFormat = "table" | "json" | "yaml" | "name" | "wide";
export const OUTPUT_FORMATS: readonly OutputFormat[] = ["table", "json", "yaml", "name", "wide"];

/** Exit codes, documented in `forja --help`. */
export const ExitCode = {
  Ok: 0,
  Error: 1,
  Usage: 2,
  Denied: 3,
  NotFound: 4,
  Conflict: 5,
  Unavailable: 6,
} as const;

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly isTTY: boolean;
}

export function exitCodeFor(e: unknown): number {
  if (!isForjaError(e)) return ExitCode.Error;
  switch (e.code) {
    case ErrorCode.InvalidInput:
    case ErrorCode.PayloadTooLarge:
      return ExitCode.Usage;
    case ErrorCode.Unauthenticated:
    case ErrorCode.Forbidden:
      return ExitCode.Denied;
    case ErrorCode.NotFound:
      return ExitCode.NotFound;
    case ErrorCode.AlreadyExists:
    case ErrorCode.Conflict:
      return ExitCode.Conflict;
    case ErrorCode.Unavailable:
      return ExitCode.Unavailable;
    case ErrorCode.Internal:
      return ExitCode.Error;
  }
}

/** "error: <one line>" plus one indented line per further offending field. */
export function formatError(e: unknown): string {
  if (!isForjaError(e)) return `error: ${e instanceof Error ? e.message : String(e)}`;
  const lines = [`error: ${e.message}`];
  if (e.details.length > 1) for (const d of e.details) lines.push(`  ${d.path ? `${d.path}: ` : ""}${d.reason}`);
  return lines.join("\n");
}

export function toJson(v: unknown): string {
  return JSON.stringify(v, null, 2);
}
export function toYaml(v: unknown): string {
  return stringify(v, { lineWidth: 0 }).trimEnd();
}

export function getPath(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return "";
  return duration(Math.max(0, now - Date.parse(iso)));
}

export function duration(ms: number): string {
  const s = Math.floor(ms / 1000);
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (s < 60) return `${(ms / 1000).toFixed(s < 10 ? 1 : 0)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60 ? `${s % 60}s` : ""}`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60) ? `${Math.floor((s % 3600) / 60)}m` : ""}`;
  return `${Math.floor(s / 86400)}d`;
}

export function formatCell(value: unknown, format?: PrintColumn["format"]): string {
  if (value === undefined || value === null) return "";
  switch (format) {
    case "age":
      return typeof value === "string" ? age(value) : text(value);
    case "duration":
      return typeof value === "number" ? duration(value) : text(value);
    case "count":
      return Array.isArray(value) ? String(value.length) : text(value);
    case "list":
      return Array.isArray(value) ? value.map(text).join(",") : text(value);
    case undefined:
      break;
  }
  return text(value);
}

/** A scalar as itself, anything else as JSON (never "[object Object]"). */
function text(value: unknown): string {
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") return String(value);
  return JSON.stringify(value) ?? "";
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
      .join("   ")
      .trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}
