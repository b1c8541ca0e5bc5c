/** Parsing of durations and resource quantities. Each parser returns undefined when invalid. */

const durationUnits: Readonly<Record<string, number>> = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86400 };
const durationRe = /^(?:[0-9]+(?:\.[0-9]+)?(?:ms|s|m|h|d))+$/;
const durationPartRe = /([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)/g;

/** Seconds from a number of seconds or a duration string ("90s", "10m", "1h30m", "500ms", "1d"). */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isFinite(value) && value >= 0 ? value : undefined;
  if (typeof value !== "string" || !durationRe.test(value)) return undefined;
  let seconds = 0;
  for (const m of value.matchAll(durationPartRe)) seconds += Number(m[1]) * (durationUnits[m[2] ?? ""] ?? Number.NaN);
  return Number.isFinite(seconds) ? Math.round(seconds * 1000) / 1000 : undefined;
}

const memoryUnits: Readonly<Record<string, number>> = {
  "": 1,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
  k: 1e3,
  K: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const memoryRe = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|K|M|G|T|P|E)?$/;

/** Bytes (rounded up) from an integer number of bytes or a quantity ("512Mi", "1Gi", "1G", "1500"). */
export function parseMemory(value: unknown): number | undefined {
  if (typeof value === "number") return Number.isSafeInteger(value) && value > 0 ? value : undefined;
  if (typeof value !== "string") return undefined;
  const m = memoryRe.exec(value);
  if (!m) return undefined;
  const bytes = Math.ceil(Number(m[1]) * (memoryUnits[m[2] ?? ""] ?? Number.NaN));
  return Number.isSafeInteger(bytes) && bytes > 0 ? bytes : undefined;
}

const cpuRe = /^(?:([0-9]+(?:\.[0-9]+)?)|([0-9]+)m)$/;

/** Cores from a number (0.5, 2) or a string ("0.5", "500m"). Rounded to millicores. */
export function parseCpu(value: unknown): number | undefined {
  let cores: number;
  if (typeof value === "number") cores = value;
  else if (typeof value === "string") {
    const m = cpuRe.exec(value);
    if (!m) return undefined;
    cores = m[1] !== undefined ? Number(m[1]) : Number(m[2]) / 1000;
  } else return undefined;
  if (!Number.isFinite(cores) || cores <= 0) return undefined;
  const milli = Math.ceil(cores * 1000 - 1e-9);
  return milli / 1000;
}

/** "1Gi"-style rendering of bytes for messages. */
export function formatBytes(bytes: number): string {
  const units = [["Ei", 2 ** 60], ["Pi", 2 ** 50], ["Ti", 2 ** 40], ["Gi", 2 ** 30], ["Mi", 2 ** 20], ["Ki", 2 ** 10],
    ["E", 1e18], ["P", 1e15], ["T", 1e12], ["G", 1e9], ["M", 1e6], ["k", 1e3]] as const;
  for (const [unit, size] of units) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}
