import { UnprocessableError } from "../errors.js";
import type {
  ModelVersion,
  RegisteredModel,
  RegistryTransaction,
  StageTransition,
  ValidationRecord,
} from "./registry-store.js";
import { checkTransition, type Stage } from "./stages.js";
import {
  decideValidation,
  describeGate,
  type ProductionContext,
  type ValidationDecision,
  type ValidationGate,
} from "./validation-gate.js";

/** What a version's standing against the gate is right now. */
export interface GateStanding {
  passed: boolean;
  /** The record that passes now (the evidence for a production move). */
  record?: ValidationRecord;
  decision?: ValidationDecision;
  /** Why it does not pass: what is missing, or which metric failed by how much. */
  message: string;
}

/** Whether a record counts under the gate: `platform` gates count only what the platform measured. */
export function countsUnderGate(gate: ValidationGate, record: ValidationRecord): boolean {
  return gate.require === "any" || record.provenance === "platform";
}

/** The production context for one snapshot: production's record there, or why there is none. */
export function productionContext(
  candidate: ModelVersion,
  production: ModelVersion | undefined,
  productionRecords: ValidationRecord[],
  snapshot: string,
): ProductionContext {
  if (!production) return { kind: "none" };
  if (production.id === candidate.id) return { kind: "self" };
  const record = productionRecords.find((r) => r.snapshot === snapshot);
  if (!record) {
    const olderCandidate = candidate.version < production.version;
    return {
      kind: "no-record",
      version: production.version,
      snapshot,
      ...(olderCandidate ? { olderCandidate } : {}),
    };
  }
  return { kind: "record", version: production.version, recordId: record.id, metrics: record.metrics };
}

/**
 * Re-decides every record of the candidate that counts under the gate against the current gate and the
 * current production version (newest record first): a record that passed against an older production cannot
 * carry a version past a better one that was promoted since, and a hand-reported record cannot carry it past
 * a gate that requires platform measurement (docs/architecture/registry.md).
 */
export function evaluateStanding(
  model: RegisteredModel,
  candidate: ModelVersion,
  candidateRecords: ValidationRecord[],
  production: ModelVersion | undefined,
  productionRecords: ValidationRecord[],
): GateStanding {
  const name = `${model.name} version ${candidate.version}`;
  const gate = model.gate;
  if (!gate) {
    return {
      passed: false,
      message: `${name} cannot be moved to production: model ${model.name} has no validation gate; set one (mlops model gate ${model.name} --metric M --higher|--lower --min X) and record a validation`,
    };
  }
  const usable = candidateRecords.filter((r) => countsUnderGate(gate, r));
  if (usable.length === 0) {
    const measure = `mlops model evaluate ${model.name} ${candidate.version} --snapshot S`;
    return {
      passed: false,
      message:
        candidateRecords.length > 0
          ? `${name} cannot be moved to production: the gate requires a platform-measured validation and its ${candidateRecords.length} record(s) were reported by hand; measure it on a held-out snapshot (${measure})`
          : `${name} cannot be moved to production: it has no validation record; measure its ${gate.metric} on a held-out snapshot (${measure})`,
    };
  }
  const baselineRecords = productionRecords.filter((r) => countsUnderGate(gate, r));
  let newest: { record: ValidationRecord; decision: ValidationDecision } | undefined;
  for (const record of usable) {
    const decision = decideValidation(
      gate,
      record.metrics,
      productionContext(candidate, production, baselineRecords, record.snapshot),
    );
    if (decision.passed) return { passed: true, record, decision, message: decision.notes.join("; ") };
    newest ??= { record, decision };
  }
  const failed = newest as { record: ValidationRecord; decision: ValidationDecision };
  return {
    passed: false,
    record: failed.record,
    decision: failed.decision,
    message: `${name} has no passing validation under the gate [${describeGate(gate)}]: on snapshot '${failed.record.snapshot}': ${failed.decision.reasons.join("; ")}`,
  };
}

export interface TransitionRequest {
  versionId: string;
  to: Stage;
  actor: string;
  reason: string;
  at: number;
  /** MLflow's archive_existing_versions: archive the others in the target stage (production always is). */
  archiveExisting: boolean;
}

export interface TransitionResult {
  version: ModelVersion;
  transition: StageTransition;
  /** Versions archived by this move (the previous production version). */
  archived: StageTransition[];
  evidence?: ValidationRecord;
}

/**
 * The one function that changes a version's stage: checks the table, the validation gate for production,
 * archives what the move displaces, records every change in the history. Runs inside the model's lock.
 */
export async function applyTransition(
  tx: RegistryTransaction,
  model: RegisteredModel,
  req: TransitionRequest,
): Promise<TransitionResult> {
  const version = await tx.findVersionById(req.versionId);
  if (!version) throw new UnprocessableError("the version was deleted meanwhile");
  const from = version.stage;
  checkTransition(from, req.to);

  let evidence: ValidationRecord | undefined;
  let standing: GateStanding | undefined;
  if (req.to === "production") {
    const [production] = await tx.versionsInStage(model.id, "production");
    const all = await tx.listValidations(model.id);
    standing = evaluateStanding(
      model,
      version,
      all.filter((r) => r.versionId === version.id),
      production,
      production ? all.filter((r) => r.versionId === production.id) : [],
    );
    if (!standing.passed) {
      throw new UnprocessableError(standing.message, { mlflowErrorCode: "INVALID_STATE", gate: model.gate });
    }
    evidence = standing.record;
  }

  const archived: StageTransition[] = [];
  if (req.to === "production" || (req.archiveExisting && req.to === "staging")) {
    for (const other of await tx.versionsInStage(model.id, req.to)) {
      if (other.id === version.id) continue;
      if (!(await tx.setStage(other.id, req.to, "archived", req.at))) continue;
      archived.push(
        await tx.insertTransition({
          modelId: model.id,
          versionId: other.id,
          version: other.version,
          fromStage: req.to,
          toStage: "archived",
          actor: req.actor,
          at: req.at,
          reason: `replaced in ${req.to} by version ${version.version}: ${req.reason}`,
          evidence: null,
          details: { replacedBy: version.version },
        }),
      );
    }
  }

  if (!(await tx.setStage(version.id, from, req.to, req.at))) {
    throw new UnprocessableError(`version ${version.version} changed stage meanwhile; try again`);
  }
  const transition = await tx.insertTransition({
    modelId: model.id,
    versionId: version.id,
    version: version.version,
    fromStage: from,
    toStage: req.to,
    actor: req.actor,
    at: req.at,
    reason: req.reason,
    evidence: evidence?.id ?? null,
    details: standing?.decision
      ? {
          snapshot: evidence?.snapshot,
          decision: standing.decision,
          archived: archived.map((a) => a.version),
        }
      : { archived: archived.map((a) => a.version) },
  });
  const updated = await tx.findVersionById(version.id);
  return { version: updated ?? { ...version, stage: req.to }, transition, archived, evidence };
}
