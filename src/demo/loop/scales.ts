import type { AnalysisPlan } from "../../serving/deployments/deployment.js";

/** How big the demo is: images, label waves, epochs, and the canary plan. */
export interface LoopScale {
  /** Labeled images from the base distribution (v1's training data). */
  baseImages: number;
  /** Images from the shifted distribution, unlabeled until the simulated labelers get to them. */
  shiftedImages: number;
  /** Labels before the first retrain, during the canary (agreement), and before the corrupted retrain. */
  waves: [number, number, number];
  /**
   * The trigger's threshold: waves[0], and waves[1] + waves[2], so that each pipeline fires on the last label
   * of a wave and its snapshot holds the same labels in every run, however fast the labelers went.
   */
  minNewLabels: number;
  cooldownSeconds: number;
  v1Epochs: number;
  retrainEpochs: number;
  /** Fraction of labels the bad candidate's job corrupts. */
  shuffleLabels: number;
  trafficPerSecond: number;
  canaryPlan: Partial<AnalysisPlan>;
}

const CANARY: Partial<AnalysisPlan> = {
  intervalSeconds: 3,
  stepWeight: 25,
  maxWeight: 50,
  minRequests: 10,
  maxErrorRate: 0.01,
  // The demo trains and serves on the same two cores: latency is noisy, so only a gross slowdown fails.
  maxP95LatencyRatio: 4,
  // Measured on shifted images: v1 agrees with the labelers on ~38%, v2 on ~52-60%. The bar sits below v2 with
  // room for the noise of a few dozen labels per step; the corrupted candidate is the gate's to stop.
  minAgreement: 0.4,
  minLabels: 15,
  failureLimit: 2,
};

export const DEMO_SCALE: LoopScale = {
  baseImages: 1200,
  shiftedImages: 900,
  waves: [400, 150, 250],
  minNewLabels: 400,
  cooldownSeconds: 10,
  v1Epochs: 12,
  retrainEpochs: 8,
  shuffleLabels: 0.8,
  trafficPerSecond: 12,
  canaryPlan: CANARY,
};

export const FAST_SCALE: LoopScale = {
  baseImages: 700,
  shiftedImages: 600,
  waves: [300, 120, 180],
  minNewLabels: 300,
  cooldownSeconds: 5,
  v1Epochs: 10,
  retrainEpochs: 6,
  shuffleLabels: 0.8,
  trafficPerSecond: 12,
  canaryPlan: CANARY,
};

/**
 * The end-to-end test's scale (test/pipeline-loop.test.ts). It asserts that v2 beats v1 on holdout, so it
 * needs enough shifted labels for that to hold run after run: at 220 labels / 6 epochs it did not always.
 * Each pipeline's snapshot is fixed by the waves and the threshold, and the example trains on its images in
 * content order (not item-id order), so v1, v2 and v3 are the same models in every run. Same as `--fast`.
 */
export const TEST_SCALE: LoopScale = FAST_SCALE;
