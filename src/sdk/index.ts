/** Forja SDK for code running in pipeline steps. */
export { REFERENCE_FORMAT, TrackingClient, TrackingError, tracking } from "./tracking.ts";
export type { ReferenceData, TrackingConfig } from "./tracking.ts";
