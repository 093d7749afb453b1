import type { LoopSummary } from "./summary.js";

/**
 * What the demo showed, in words a first-time user cannot miss (README: `mlops demo`). The story has two
 * pipelines: #1 retrains on new labels and should be promoted through the canary; #2 trains on corrupted
 * labels and should be stopped (rejected by the gate, or rolled back by the canary). Anything else is said
 * plainly: a rejected or rolled-back retrain is the platform refusing a model that did not beat production,
 * which is not what the demo set out to show.
 */
export interface DemoVerdict {
  /** Both pipelines ended as the story expects. */
  asDesigned: boolean;
  lines: string[];
}

type Pipeline = LoopSummary["pipelines"][number];

const STOPPED = new Set(["rejected", "rolled_back"]);

function versionName(p: Pipeline): string {
  return p.candidateVersion === null ? "the candidate" : `v${p.candidateVersion}`;
}

function holdout(p: Pipeline): string {
  if (!p.holdout) return "";
  const pct = (x: number | null) => (x === null ? "-" : `${(x * 100).toFixed(1)}%`);
  return ` (holdout: ${pct(p.holdout.candidate)} vs production ${pct(p.holdout.production)} on ${p.holdout.items} items)`;
}

/** A pipeline's end state as a word in capitals and as a phrase. */
function ended(p: Pipeline): [string, string] {
  switch (p.state) {
    case "promoted":
      return ["PROMOTED", "promoted to production"];
    case "rejected":
      return ["REJECTED", "rejected by the validation gate"];
    case "rolled_back":
      return ["ROLLED BACK", "rolled back by the canary analysis"];
    case "staged":
      return ["STAGED", "staged but not promoted"];
    case "failed":
      return ["FAILED", "never evaluated: the pipeline failed"];
    case "cancelled":
      return ["CANCELLED", "never evaluated: the pipeline was cancelled"];
    default:
      return ["UNFINISHED", `still in step ${p.state} when the demo ended`];
  }
}

export function demoVerdict(s: LoopSummary): DemoVerdict {
  const [retrain, corrupted] = s.pipelines;
  const lines: string[] = [];
  let asDesigned = true;
  if (!retrain) {
    return { asDesigned: false, lines: ["NOT AS DESIGNED: the retrain pipeline never ran"] };
  }
  const base = retrain.baseVersion === null ? "production" : `v${retrain.baseVersion}`;
  const retrained = `${versionName(retrain)} (fine-tuned from ${base} on the new labels)`;
  const [word, phrase] = ended(retrain);
  lines.push(`${word}: ${retrained} was ${phrase}${holdout(retrain)}`);
  if (retrain.state !== "promoted") {
    asDesigned = false;
    lines.push(`  reason: ${retrain.reason}`);
    lines.push(
      `  production stays v${s.production.version ?? "-"}: this run did not show a retrain beating production`,
    );
  }
  if (!corrupted) {
    asDesigned = false;
    lines.push("NOT AS DESIGNED: the pipeline on corrupted labels never ran");
  } else if (STOPPED.has(corrupted.state)) {
    const [stopped, how] = ended(corrupted);
    lines.push(`${stopped}: ${versionName(corrupted)} (trained on corrupted labels) was ${how}, as intended`);
    lines.push(`  reason: ${corrupted.reason}`);
  } else {
    asDesigned = false;
    lines.push(
      `NOT STOPPED: ${versionName(corrupted)} (trained on corrupted labels) was ${ended(corrupted)[1]}${holdout(corrupted)}`,
    );
    lines.push(`  reason: ${corrupted.reason}`);
  }
  lines.push(
    asDesigned
      ? "RESULT: the loop worked as designed: the retrained model was promoted, the corrupted one was stopped"
      : "RESULT: NOT as designed (see the lines above)",
  );
  return { asDesigned, lines };
}
