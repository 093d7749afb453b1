import type { ShapeKind } from "./shape-raster.js";

/** The shape classes of the synthetic data set unless `--classes` chooses others. */
export const DEFAULT_CLASSES: readonly ShapeKind[] = ["circle", "square", "triangle"];
