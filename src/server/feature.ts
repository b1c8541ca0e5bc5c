/**
 * A feature module: what one capability (projects, pipelines, tracking, serving, ...)
 * contributes to the platform. The composition root (platform.ts) collects them.
 */
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { ArtifactStore } from "../artifacts/port.ts";
import type { Authorizer } from "../auth/authorizer.ts";
import type { TokenService } from "../auth/tokens.ts";
import type { Controller, ControllerManager } from "../controllers/manager.ts";
import type { RawMount, RouteModule } from "../http/app.ts";
import type { ServerConfig } from "../platform/config.ts";
import type { AnyKind, KindRegistry } from "../resources/kinds.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import type { ResourceService } from "../resources/service.ts";
import type { WorkloadRuntime } from "../runtime/port.ts";
import type { Database } from "../store/database.ts";
import type { NamedMigrations } from "../store/migrations.ts";

/** A pipeline run as seen by other features. */
export interface PipelineRunIdentity {
  readonly uid: string;
  readonly name: string;
  readonly project: string;
}

/** A tensor as the serving data plane hands it to hooks (an onnxruntime tensor fits). */
export interface TensorLike {
  readonly dims: readonly number[];
  readonly type: string;
  readonly data: ArrayLike<unknown>;
}

/** One successful inference request (serving → monitoring's payload log). */
export interface InferenceEvent {
  readonly project: string;
  readonly deployment: string;
  readonly version: number;
  readonly inputs: Readonly<Record<string, TensorLike>>;
  readonly outputs: Readonly<Record<string, TensorLike>>;
}

/**
 * Extension points one feature fills and another calls, so that features stay independent
 * (e.g. tracking gives every pipeline step an MLflow run and a token).
 */
export interface PlatformHooks {
  /** Extra secret environment for a pipeline step (node) about to start. */
  pipelineStepEnv?: (run: PipelineRunIdentity, nodeId: string) => Promise<Record<string, string>>;
  /** A pipeline run reached a final phase. */
  pipelineRunEnded?: (run: PipelineRunIdentity) => Promise<void>;
  /**
   * Called synchronously on the inference path after the answer is computed: must be cheap,
   * never throw and never wait (monitoring samples into a bounded in-memory buffer).
   */
  inferenceServed?: (event: InferenceEvent) => void;
  /**
   * A project is being deleted, its resources already gone: each feature that keeps data of the
   * project outside resources (tracking, registry) removes it here, so that nothing of it
   * survives, and a project created again under the name starts empty. Runs before the project
   * itself goes; a purge that throws is retried.
   */
  readonly projectPurges: ((project: string) => Promise<void>)[];
}

/** Everything a feature may use, built once by the composition root. */
export interface PlatformContext {
  readonly config: ServerConfig;
  readonly logger: Logger;
  readonly database: Database;
  readonly registry: KindRegistry;
  readonly repo: ResourceRepository;
  readonly resources: ResourceService;
  readonly authz: Authorizer;
  readonly tokens: TokenService;
  readonly artifacts: ArtifactStore;
  readonly runtime: WorkloadRuntime;
  readonly metrics: Registry;
  readonly controllers: ControllerManager;
  readonly hooks: PlatformHooks;
  /** The URL workloads and clients use to reach this server (known once listening). */
  publicUrl(): string;
}

export interface FeatureModule {
  readonly name: string;
  readonly kinds?: readonly AnyKind[];
  readonly migrations?: NamedMigrations;
  controllers?(ctx: PlatformContext): Controller[];
  routes?(ctx: PlatformContext): RouteModule;
  /** Requests served by plain node:http ahead of Fastify (latency-critical paths only, ADR 0011). */
  rawRoutes?(ctx: PlatformContext): RawMount;
  /** Called after the server listens. */
  start?(ctx: PlatformContext): Promise<void>;
  stop?(): Promise<void>;
}
