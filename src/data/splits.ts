import { InputError } from "../errors.js";
import { sha256Hex } from "./canonical-json.js";
import { DEFAULT_SPLIT_FRACTIONS, type Split, type SplitFractions } from "./model.js";

/**
 * The split of an item, from its key alone: sha256("split:" + key) read as a number in [0, 1) and
 * compared with the cumulative fractions (train, then val, then holdout). The same key always lands in
 * the same split, on any platform, and the split is stored with the item so it never changes later.
 */
export function assignSplit(key: string, fractions: SplitFractions = DEFAULT_SPLIT_FRACTIONS): Split {
  // 52 bits: exactly representable in a double.
  const bucket = Number.parseInt(sha256Hex(`split:${key}`).slice(0, 13), 16) / 2 ** 52;
  if (bucket < fractions.train) return "train";
  if (bucket < fractions.train + fractions.val) return "val";
  return "holdout";
}

export function validateSplitFractions(input: Partial<SplitFractions> | undefined): SplitFractions {
  const f = { ...DEFAULT_SPLIT_FRACTIONS, ...(input ?? {}) };
  for (const [name, v] of Object.entries(f)) {
    if (typeof v !== "number" || !Number.isFinite(v) || v < 0 || v > 1) {
      throw new InputError(`split fraction ${name} must be a number between 0 and 1`);
    }
  }
  if (Math.abs(f.train + f.val + f.holdout - 1) > 1e-9) {
    throw new InputError(
      `split fractions must add up to 1 (train ${f.train} + val ${f.val} + holdout ${f.holdout})`,
    );
  }
  return f;
}

/** Parses "0.8,0.1,0.1" (train,val,holdout). */
export function parseSplitFractions(text: string): SplitFractions {
  const parts = text.split(",").map((p) => Number(p.trim()));
  if (parts.length !== 3 || parts.some((p) => Number.isNaN(p))) {
    throw new InputError(`split fractions must look like 0.8,0.1,0.1 (train,val,holdout), got '${text}'`);
  }
  return validateSplitFractions({ train: parts[0], val: parts[1], holdout: parts[2] });
}
