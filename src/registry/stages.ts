import { ConflictError, InputError, UnprocessableError } from "../errors.js";

/**
 * The stage machine of a model version. `experiment` is where every version starts; `staging` is where
 * it is validated; `production` is earned with a passing validation record; `archived` is retired.
 */
export const STAGES = ["experiment", "staging", "production", "archived"] as const;
export type Stage = (typeof STAGES)[number];

/**
 * Allowed transitions. Production is reached only from staging (the validation stage); archived versions
 * come back through staging (or experiment), never straight to production, so a rollback is re-validated.
 */
export const STAGE_TRANSITIONS: Readonly<Record<Stage, readonly Stage[]>> = {
  experiment: ["staging", "archived"],
  staging: ["production", "experiment", "archived"],
  production: ["staging", "archived"],
  archived: ["staging", "experiment"],
};

/** MLflow's stage names (docs/architecture/registry.md). */
const MLFLOW_NAMES: Readonly<Record<Stage, string>> = {
  experiment: "None",
  staging: "Staging",
  production: "Production",
  archived: "Archived",
};

export function isStage(value: unknown): value is Stage {
  return typeof value === "string" && (STAGES as readonly string[]).includes(value);
}

export function toMlflowStage(stage: Stage): string {
  return MLFLOW_NAMES[stage];
}

/** Accepts our names and MLflow's, case-insensitively (MLflow itself does the same). */
export function parseStage(value: string): Stage {
  const lower = value.trim().toLowerCase();
  if (lower === "none") return "experiment";
  if (isStage(lower)) return lower;
  throw new InputError(
    `invalid stage '${value}': expected one of ${STAGES.join(", ")} (MLflow: None, Staging, Production, Archived)`,
  );
}

/** Throws unless `from -> to` is in the table. */
export function checkTransition(from: Stage, to: Stage): void {
  if (from === to) throw new ConflictError(`the version is already in stage ${to}`);
  if (!STAGE_TRANSITIONS[from].includes(to)) {
    const allowed = STAGE_TRANSITIONS[from].join(", ");
    const hint = to === "production" ? "; move it to staging and validate it first" : "";
    throw new UnprocessableError(`cannot move a version from ${from} to ${to} (allowed: ${allowed})${hint}`);
  }
}
