/**
 * How sure the analysis must be before label agreement fails a canary. A canary step sees a few dozen labels
 * at most; the raw share of accepted predictions swings by +-12 points at 16 labels, so comparing it with
 * `minAgreement` rolled back candidates that were better than production. The check fails only when the
 * upper end of a one-sided Wilson score interval (at `confidence`) is below the bar: the labels show, with
 * that confidence, that the canary agrees less often than `minAgreement` (docs/architecture/serving.md).
 */

/** One-sided confidence used when a plan names none. */
export const DEFAULT_AGREEMENT_CONFIDENCE = 0.9;

/**
 * Upper end of the one-sided Wilson score interval for `accepted` successes in `total` trials. With
 * confidence 0.5 (z = 0) it is the observed share itself.
 */
export function agreementUpperBound(accepted: number, total: number, confidence: number): number {
  if (total <= 0) return 1;
  const p = accepted / total;
  const z = normalQuantile(confidence);
  const z2 = z * z;
  const centre = (p + z2 / (2 * total)) / (1 + z2 / total);
  const half = (z * Math.sqrt((p * (1 - p)) / total + z2 / (4 * total * total))) / (1 + z2 / total);
  return Math.min(1, centre + half);
}

/** z with Phi(z) = probability, for probability in [0.5, 1): bisection on the normal CDF. */
export function normalQuantile(probability: number): number {
  if (!(probability >= 0.5 && probability < 1))
    throw new RangeError(`probability ${probability} not in [0.5, 1)`);
  let low = 0;
  let high = 10;
  for (let i = 0; i < 60; i++) {
    const mid = (low + high) / 2;
    if (normalCdf(mid) < probability) low = mid;
    else high = mid;
  }
  return (low + high) / 2;
}

/** Phi(x) through erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7). */
function normalCdf(x: number): number {
  const t = 1 / (1 + 0.3275911 * (Math.abs(x) / Math.SQRT2));
  const poly =
    t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-(x * x) / 2);
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}
