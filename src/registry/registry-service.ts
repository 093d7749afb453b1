import { randomUUID } from "node:crypto";
import { actorOf, type Principal } from "../auth/principal.js";
import { InputError } from "../errors.js";
import { applyTransition, countsUnderGate, productionContext, type TransitionResult } from "./promotion.js";
import { RegistryCatalog } from "./registry-catalog.js";
import type {
  EvaluationProvenance,
  StageTransition,
  ValidationProvenance,
  ValidationRecord,
} from "./registry-store.js";
import { type Stage, toMlflowStage } from "./stages.js";
import { decideValidation } from "./validation-gate.js";

const SNAPSHOT = /^[A-Za-z0-9][A-Za-z0-9._:@/+-]{0,199}$/;

/** A principal for platform automation (canary promotion, retraining): acts with full rights, audited by name. */
export function systemPrincipal(name: string): Principal {
  return { userId: `system:${name}`, userName: `system/${name}`, role: "admin", tokenId: "" };
}

/** The registry: catalog plus stage transitions, validation records and the gate. */
export class RegistryService extends RegistryCatalog {
  /**
   * Moves a version to another stage. Production needs `deploy` and a passing validation record; the
   * previous production version is archived in the same transaction.
   */
  async transition(
    principal: Principal,
    projectName: string,
    name: string,
    version: string | number,
    to: Stage,
    options: { reason?: string; archiveExisting?: boolean } = {},
  ): Promise<TransitionResult> {
    const permission = to === "production" ? "deploy" : "write";
    const found = await this.getVersion(principal, projectName, name, version, permission);
    const reason = options.reason?.trim() || `moved to ${to}`;
    if (reason.length > 2000) throw new InputError("reason longer than 2000 characters");
    const result = await this.deps.store.locked(found.model.id, async (tx) => {
      const model = (await tx.findModelById(found.model.id)) ?? found.model;
      return applyTransition(tx, model, {
        versionId: found.version.id,
        to,
        actor: actorOf(principal),
        reason,
        at: this.now(),
        archiveExisting: options.archiveExisting ?? false,
      });
    });
    for (const archived of result.archived) {
      await this.publish(
        principal,
        "model.version.transitioned",
        found.model,
        transitionData(found.model.name, archived),
        archived.reason,
      );
    }
    await this.publish(
      principal,
      "model.version.transitioned",
      found.model,
      transitionData(found.model.name, result.transition),
      reason,
    );
    return result;
  }

  async history(
    principal: Principal,
    projectName: string,
    name: string,
    version?: string,
  ): Promise<StageTransition[]> {
    if (version !== undefined) {
      const found = await this.getVersion(principal, projectName, name, version);
      return this.deps.store.listTransitions(found.model.id, found.version.id);
    }
    const model = await this.getModel(principal, projectName, name);
    return this.deps.store.listTransitions(model.id);
  }

  /**
   * Stores a version's metrics on a held-out snapshot with the platform's pass/fail decision. Callers decide
   * the provenance: `platform` only from the platform's own measurement (evaluation service, retrain
   * pipeline); the HTTP API records `reported` only, through the evaluation service's checks.
   */
  async recordValidation(
    principal: Principal,
    projectName: string,
    name: string,
    version: string | number,
    input: {
      snapshot: string;
      metrics: Record<string, number>;
      runId?: string;
      provenance: ValidationProvenance;
      evaluation?: EvaluationProvenance;
    },
  ): Promise<ValidationRecord> {
    const { model, version: v } = await this.getVersion(principal, projectName, name, version, "write");
    if (!SNAPSHOT.test(input.snapshot)) throw new InputError(`invalid snapshot name '${input.snapshot}'`);
    const entries = Object.entries(input.metrics);
    if (entries.length === 0) throw new InputError("a validation record needs at least one metric");
    for (const [key, value] of entries) {
      if (!key || key.length > 250) throw new InputError("metric names must be 1-250 characters");
      if (typeof value !== "number" || !Number.isFinite(value))
        throw new InputError(`metric ${key} must be a finite number`);
    }
    const all = await this.deps.store.listValidations(model.id);
    const production = (await this.deps.store.listVersions(model.id)).find((x) => x.stage === "production");
    const gate = model.gate;
    const baseline = production
      ? all.filter((r) => r.versionId === production.id && (!gate || countsUnderGate(gate, r)))
      : [];
    const decision = decideValidation(
      gate,
      input.metrics,
      productionContext(v, production, baseline, input.snapshot),
    );
    if (gate?.require === "platform" && input.provenance !== "platform") {
      decision.passed = false;
      decision.reasons.unshift(
        "the gate requires a platform-measured validation; a reported record does not count (mlops model evaluate)",
      );
    }
    const record: ValidationRecord = {
      id: randomUUID(),
      modelId: model.id,
      versionId: v.id,
      version: v.version,
      snapshot: input.snapshot,
      metrics: input.metrics,
      runId: input.runId ?? null,
      createdBy: principal.userName,
      createdAt: this.now(),
      passed: decision.passed,
      decision,
      provenance: input.provenance,
      evaluation: input.evaluation ?? null,
    };
    await this.deps.store.insertValidation(record);
    await this.publish(principal, "model.validation.recorded", model, {
      name: model.name,
      version: v.version,
      recordId: record.id,
      snapshot: record.snapshot,
      metrics: record.metrics,
      provenance: record.provenance,
      passed: decision.passed,
      reasons: decision.reasons,
    });
    return record;
  }

  async listValidations(principal: Principal, projectName: string, name: string, version?: string) {
    if (version !== undefined) {
      const found = await this.getVersion(principal, projectName, name, version);
      return this.deps.store.listValidations(found.model.id, found.version.id);
    }
    const model = await this.getModel(principal, projectName, name);
    return this.deps.store.listValidations(model.id);
  }

  /** The location an MLflow client downloads the version from (through the artifact proxy). */
  async downloadUri(
    principal: Principal,
    projectName: string,
    name: string,
    version: string,
  ): Promise<string> {
    const { version: v } = await this.getVersion(principal, projectName, name, version);
    if (v.runId && v.runPath !== null && this.deps.runs) {
      const run = await this.deps.runs.getRun(v.runId);
      if (run) return v.runPath ? `${run.artifactUri}/${v.runPath}` : run.artifactUri;
    }
    return v.source;
  }
}

function transitionData(name: string, t: StageTransition): Record<string, unknown> {
  return {
    name,
    version: t.version,
    from: t.fromStage,
    to: t.toStage,
    mlflowStage: toMlflowStage(t.toStage),
    evidence: t.evidence,
    transitionId: t.id,
  };
}
