/** Forja SDK for code running in pipeline steps. */
export { TrackingClient, TrackingError, tracking } from "./tracking.ts";
export type { TrackingConfig } from "./tracking.ts";
