/** Pipeline routes beyond CRUD: start a run, cancel, retry, logs. */
import { Readable } from "node:stream";
import { Type } from "@sinclair/typebox";
import type { FastifyInstance } from "fastify";
import type { PipelineService } from "./service.ts";

const RunParams = Type.Object({ project: Type.String(), name: Type.String() });

export function pipelineRoutes(service: PipelineService) {
  return (app: FastifyInstance) => {
    app.post(
      "/api/v1/projects/:project/pipelines/:name/runs",
      {
        schema: {
          tags: ["pipelines"],
          summary: "Start a run of a pipeline (parameters are checked before the run is created)",
          params: RunParams,
          body: Type.Object(
            {
              params: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
              cache: Type.Optional(Type.Boolean()),
              timeoutSeconds: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
              labels: Type.Optional(Type.Record(Type.String(), Type.String())),
              name: Type.Optional(Type.String({ pattern: "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$" })),
            },
            { additionalProperties: false },
          ),
        },
      },
      async (req, reply) => {
        const p = req.params as { project: string; name: string };
        const body = (req.body ?? {}) as Parameters<PipelineService["startRun"]>[3];
        return reply.status(201).send(await service.startRun(req.principal, p.project, p.name, body));
      },
    );
    app.post(
      "/api/v1/projects/:project/pipelineruns/:name/cancel",
      { schema: { tags: ["pipelines"], summary: "Cancel a run: running steps are stopped, finally steps still run", params: RunParams } },
      async (req) => {
        const p = req.params as { project: string; name: string };
        return service.cancel(req.principal, { kind: "PipelineRun", project: p.project, name: p.name });
      },
    );
    app.post(
      "/api/v1/projects/:project/pipelineruns/:name/retry",
      { schema: { tags: ["pipelines"], summary: "Re-run the failed steps of a Failed or Cancelled run, reusing the outputs of those that succeeded", params: RunParams } },
      async (req) => {
        const p = req.params as { project: string; name: string };
        return service.retry(req.principal, { kind: "PipelineRun", project: p.project, name: p.name });
      },
    );
    app.get(
      "/api/v1/projects/:project/pipelineruns/:name/logs",
      {
        schema: {
          tags: ["pipelines"],
          summary: "Step logs as text; follow=true streams until the run ends",
          params: RunParams,
          querystring: Type.Object({
            step: Type.Optional(Type.String()),
            attempt: Type.Optional(Type.Integer({ minimum: 1 })),
            follow: Type.Optional(Type.Boolean()),
            stream: Type.Optional(Type.Union([Type.Literal("stdout"), Type.Literal("stderr"), Type.Literal("both")])),
          }),
        },
      },
      async (req, reply) => {
        const p = req.params as { project: string; name: string };
        const q = req.query as { step?: string; attempt?: number; follow?: boolean; stream?: "stdout" | "stderr" | "both" };
        const abort = new AbortController();
        req.raw.on("close", () => abort.abort());
        const gen = service.logs(req.principal, { kind: "PipelineRun", project: p.project, name: p.name }, q, abort.signal);
        // Surface authorization and validation errors as proper statuses before streaming starts.
        const first = await gen.next();
        async function* rest() {
          if (!first.done) yield first.value;
          yield* gen;
        }
        return reply.type("text/plain; charset=utf-8").header("cache-control", "no-cache").send(Readable.from(rest()));
      },
    );
  };
}
