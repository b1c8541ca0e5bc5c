/**
 * Project controller: reports the project's phase and members, flags members that are not
 * users, and on deletion removes every resource of the project, then what features keep of it
 * outside resources (tracking and registry data), before letting it go.
 */
import type { Controller, ReconcileResult } from "../controllers/manager.ts";
import type { KindRegistry } from "../resources/kinds.ts";
import type { Condition, ResourceRef } from "../resources/model.ts";
import type { ResourceRepository } from "../resources/repository.ts";
import { PROJECT_FINALIZER, type ProjectSpec, type ProjectStatus } from "./kind.ts";

export class ProjectController implements Controller {
  readonly name = "projects";
  readonly kind = "Project";
  readonly resyncSeconds = 60;

  constructor(
    private readonly repo: ResourceRepository,
    private readonly registry: KindRegistry,
    /** What features keep of a project outside resources, removed before the project goes. */
    private readonly purges: readonly ((project: string) => Promise<void>)[] = [],
    private readonly now: () => Date = () => new Date(),
  ) {}

  async reconcile(ref: ResourceRef): Promise<ReconcileResult | void> {
    const project = await this.repo.get(ref);
    if (!project) return;
    const spec = project.spec as ProjectSpec;
    const status = project.status as ProjectStatus;

    if (project.metadata.deletionTimestamp) {
      if (status.phase !== "Terminating") {
        await this.repo.update(ref, { status: { ...status, phase: "Terminating" } });
      }
      let remaining = 0;
      for (const reg of this.registry.all()) {
        if (reg.def.scope !== "Project") continue;
        for (const r of await this.repo.listAll({ kind: reg.def.kind, project: ref.name })) {
          remaining++;
          if (!r.metadata.deletionTimestamp) await this.repo.delete({ kind: r.kind, project: ref.name, name: r.metadata.name });
        }
      }
      if (remaining > 0) return { requeueAfterMs: 500 };
      // Then the data kept outside resources (experiments, runs, registered models); a failure
      // throws, and the reconcile is retried with the finalizer still in place.
      for (const purge of this.purges) await purge(ref.name);
      const finalizers = (project.metadata.finalizers ?? []).filter((f) => f !== PROJECT_FINALIZER);
      await this.repo.update(ref, { finalizers });
      return;
    }

    const users = await this.repo.listAll({ kind: "User", project: "", namesIn: spec.members.map((m) => m.user) });
    const known = new Set(users.map((u) => u.metadata.name));
    const unknown = spec.members.filter((m) => !known.has(m.user)).map((m) => m.user);
    const previous = status.conditions?.find((c) => c.type === "MembersResolved");
    const condStatus = unknown.length ? "False" : "True";
    const condition: Condition = {
      type: "MembersResolved",
      status: condStatus,
      ...(unknown.length ? { reason: "UnknownUsers", message: `no such users: ${unknown.join(", ")}` } : { reason: "AllMembersExist" }),
      lastTransitionTime: previous && previous.status === condStatus ? previous.lastTransitionTime : this.now().toISOString(),
    };
    const next: ProjectStatus = {
      phase: "Active",
      observedGeneration: project.metadata.generation,
      members: spec.members.length,
      conditions: [condition],
    };
    if (JSON.stringify(next) !== JSON.stringify(status)) {
      await this.repo.update(ref, { status: next }, project.metadata.resourceVersion);
    }
    // Unknown users may be created later: look again soon.
    return unknown.length ? { requeueAfterMs: 10_000 } : undefined;
  }
}
