/**
 * The composition root: builds every port's adapter from config, registers the feature
 * modules (kinds, migrations, controllers, routes) and owns the process lifecycle.
 * Nothing else constructs infrastructure.
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { pino, type Logger } from "pino";
import { Registry, collectDefaultMetrics } from "prom-client";
import type { FastifyInstance } from "fastify";
import { FsArtifactStore } from "../artifacts/fs-store.ts";
import { Authorizer } from "../auth/authorizer.ts";
import { authRoutes } from "../auth/routes.ts";
import { TokenService } from "../auth/tokens.ts";
import { UserKind } from "../auth/users.ts";
import { ControllerManager } from "../controllers/manager.ts";
import { buildHttpApp, type RouteModule } from "../http/app.ts";
import type { ServerConfig } from "../platform/config.ts";
import { errorMessage } from "../platform/errors.ts";
import { ProjectController } from "../projects/controller.ts";
import { ProjectKind } from "../projects/kind.ts";
import { SecretKind, secretAdmission } from "../secrets/kind.ts";
import { pipelinesFeature } from "../pipelines/feature.ts";
import { trackingFeature } from "../tracking/feature.ts";
import { registryFeature } from "../registry/feature.ts";
import { servingFeature } from "../serving/feature.ts";
import { monitoringFeature } from "../monitoring/feature.ts";
import { KindRegistry } from "../resources/kinds.ts";
import { ResourceRepository } from "../resources/repository.ts";
import { resourceRoutes } from "../resources/routes.ts";
import { ResourceService } from "../resources/service.ts";
import { createAjv } from "../resources/validation.ts";
import { LocalProcessRuntime } from "../runtime/local/local-runtime.ts";
import { openDatabase, type Database } from "../store/database.ts";
import { coreMigrations, migrate, type NamedMigrations } from "../store/migrations.ts";
import { bootstrap } from "./bootstrap.ts";
import type { FeatureModule, PlatformContext } from "./feature.ts";
import { healthRoutes, metricsRoutes } from "./health.ts";
import { VERSION } from "./version.ts";

export interface Platform {
  readonly ctx: PlatformContext;
  readonly app: FastifyInstance;
  /** Listens and starts the controllers; resolves with the URL. */
  start(): Promise<string>;
  /** Graceful: stops accepting requests, drains, stops controllers, closes the store. Workloads keep running. */
  stop(): Promise<void>;
}

/** The core feature: users and projects. Later features append theirs in `features()`. */
const coreFeature: FeatureModule = {
  name: "core",
  kinds: [UserKind, ProjectKind, SecretKind],
  controllers: (ctx) => {
    ctx.resources.addHook(secretAdmission);
    return [new ProjectController(ctx.repo, ctx.registry, ctx.hooks.projectPurges)];
  },
};

export function features(): FeatureModule[] {
  return [coreFeature, pipelinesFeature(), trackingFeature(), registryFeature(), servingFeature(), monitoringFeature()];
}

export function createLogger(config: Pick<ServerConfig, "logLevel">): Logger {
  return pino({
    level: config.logLevel,
    base: { svc: "forja" },
    redact: { paths: ["req.headers.authorization", "*.token", "*.secretEnv", "*.password"], censor: "[redacted]" },
  });
}

export async function createPlatform(config: ServerConfig, options: { logger?: Logger; features?: FeatureModule[] } = {}): Promise<Platform> {
  const logger = options.logger ?? createLogger(config);
  const mods = options.features ?? features();
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 });

  const database: Database = openDatabase({ url: config.databaseUrl });
  const migrations = mods.reduce<NamedMigrations>((all, m) => ({ ...all, ...m.migrations }), coreMigrations());
  try {
    const applied = await migrate(database, migrations);
    if (applied.length) logger.info({ applied, store: database.description }, "database migrated");
  } catch (e) {
    await database.close();
    throw e;
  }

  const registry = new KindRegistry(createAjv());
  for (const m of mods) for (const k of m.kinds ?? []) registry.register(k);
  const metrics = new Registry();
  collectDefaultMetrics({ register: metrics, prefix: "forja_process_" });
  const repo = new ResourceRepository(database);
  const authz = new Authorizer(repo, { selfServiceProjects: config.selfServiceProjects });
  const tokens = new TokenService(database, repo);
  const resources = new ResourceService(registry, repo, authz);
  const artifacts = new FsArtifactStore({ rootDir: join(config.dataDir, "artifacts"), defaultMaxBytes: config.artifactMaxBytes });
  const runtime = new LocalProcessRuntime({
    rootDir: join(config.dataDir, "workloads"),
    maxConcurrent: config.maxConcurrentWorkloads,
    logger: logger.child({ component: "runtime" }),
  });
  const controllers = new ControllerManager(repo, logger.child({ component: "controllers" }), metrics);
  let url = config.publicUrl ?? `http://${config.host}:${config.port}`;

  const ctx: PlatformContext = {
    config,
    logger,
    database,
    registry,
    repo,
    resources,
    authz,
    tokens,
    artifacts,
    runtime,
    metrics,
    controllers,
    hooks: { projectPurges: [] },
    publicUrl: () => url,
  };
  for (const m of mods) for (const c of m.controllers?.(ctx) ?? []) controllers.register(c);

  const routeModules: RouteModule[] = [
    healthRoutes(ctx),
    metricsRoutes(ctx),
    authRoutes(tokens, authz),
    resourceRoutes(resources),
    ...mods.flatMap((m) => (m.routes ? [m.routes(ctx)] : [])),
  ];
  const rawMounts = mods.flatMap((m) => (m.rawRoutes ? [m.rawRoutes(ctx)] : []));
  const app = await buildHttpApp({ logger, bodyLimitBytes: config.bodyLimitBytes, tokens, version: VERSION }, routeModules, rawMounts);
  await bootstrap(ctx);

  let stopped = false;
  return {
    ctx,
    app,
    async start() {
      await runtime.recover();
      await controllers.start();
      const address = await app.listen({ host: config.host, port: config.port });
      if (!config.publicUrl) {
        const port = (app.server.address() as { port: number }).port;
        url = `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`;
      }
      for (const m of mods) await m.start?.(ctx);
      logger.info({ url, address, store: database.description, dataDir: config.dataDir }, "forja is up");
      return url;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await app.close().catch((e: unknown) => logger.warn({ err: errorMessage(e) }, "http close"));
      for (const m of [...mods].reverse()) await m.stop?.();
      await controllers.stop();
      await runtime.close();
      await database.close();
      logger.info("forja stopped");
    },
  };
}
