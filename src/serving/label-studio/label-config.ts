import { InputError } from "../../errors.js";
import type { LabelStudioSetup } from "../deployments/deployment.js";

interface Tag {
  tag: string;
  attrs: Record<string, string>;
}

/** Opening tags of a Label Studio label config with their attributes (the config is small, flat XML). */
export function parseTags(xml: string): Tag[] {
  const tags: Tag[] = [];
  for (const m of xml.matchAll(/<([A-Za-z][\w-]*)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|'[^']*'))*)\s*\/?>/g)) {
    const attrs: Record<string, string> = {};
    for (const a of m[2].matchAll(/([^\s=>/]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/g))
      attrs[a[1]] = a[2] ?? a[3] ?? "";
    tags.push({ tag: m[1], attrs });
  }
  return tags;
}

const CONTROL_OF_TASK = { classification: "Choices", detection: "RectangleLabels" } as const;
const TYPE_OF_TASK = { classification: "choices", detection: "rectanglelabels" } as const;

/**
 * Where predictions go in a Label Studio project: the `<Choices>` (classification) or `<RectangleLabels>`
 * (detection) control's `name` and `toName`, and the data key of the `<Image>` it labels
 * (`value="$image"` -> `image`). InputError when the config has no fitting control.
 */
export function setupFromLabelConfig(
  xml: string,
  task: "classification" | "detection",
  extra: { project?: string; hostname?: string } = {},
): LabelStudioSetup {
  const tags = parseTags(xml);
  const want = CONTROL_OF_TASK[task];
  const control = tags.find((t) => t.tag === want && t.attrs.name && t.attrs.toName);
  if (!control) {
    throw new InputError(
      `the label config has no <${want} name=... toName=...> for this ${task} model (found: ${[...new Set(tags.map((t) => t.tag))].join(", ") || "no tags"})`,
    );
  }
  const toName = control.attrs.toName.split(",")[0].trim();
  const image = tags.find((t) => t.tag === "Image" && t.attrs.name === toName);
  const value = image?.attrs.value ?? "$image";
  return {
    fromName: control.attrs.name,
    toName,
    type: TYPE_OF_TASK[task],
    dataKey: value.startsWith("$") ? value.slice(1) : value,
    ...(extra.project ? { project: extra.project } : {}),
    ...(extra.hostname ? { hostname: extra.hostname } : {}),
  };
}

/** Used before any `/setup`: Label Studio's image templates name the control `label` and the image `image`. */
export function defaultSetup(task: "classification" | "detection"): LabelStudioSetup {
  return { fromName: "label", toName: "image", type: TYPE_OF_TASK[task], dataKey: "image" };
}
