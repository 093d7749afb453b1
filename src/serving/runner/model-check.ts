import { DETECTION_OUTPUT_NAMES, type ModelDescriptor } from "../../registry/model-descriptor.js";
import { ModelLoadError, type TensorMetadata } from "./model-runner.js";

/**
 * Checks that a loaded ONNX graph is what its model.json says, so that a mismatch fails at load time
 * with a precise message instead of on the first request.
 */
export function checkModelAgainstDescriptor(
  key: string,
  d: ModelDescriptor,
  inputs: TensorMetadata[],
  outputs: TensorMetadata[],
): void {
  const fail = (msg: string) => {
    throw new ModelLoadError(`model "${key}" does not match its model.json: ${msg}`);
  };
  const input = inputs.find((i) => i.name === d.inputName);
  if (!input) fail(`inputName "${d.inputName}" is not an input of the graph (${names(inputs)})`);
  if (inputs.length !== 1)
    fail(`the graph has ${inputs.length} inputs (${names(inputs)}); an image model has one`);
  if (input!.datatype !== "FP32") fail(`input "${d.inputName}" is ${input!.datatype}, expected FP32`);
  const [c, h, w] = d.inputShape;
  const expected = d.preprocessing.layout === "NCHW" ? [c, h, w] : [h, w, c];
  const actual = input!.shape;
  if (actual.length !== 4 || expected.some((dim, i) => actual[i + 1] >= 0 && actual[i + 1] !== dim)) {
    fail(
      `input shape [${actual.join(",")}] does not fit inputShape ${d.preprocessing.layout} [N,${expected.join(",")}]`,
    );
  }
  if (d.output.kind === "detection") {
    const o = d.output;
    const boxes = byName(outputs, o.boxes ?? DETECTION_OUTPUT_NAMES.boxes, fail);
    const scores = byName(outputs, o.scores ?? DETECTION_OUTPUT_NAMES.scores, fail);
    const labels = byName(outputs, o.labels ?? DETECTION_OUTPUT_NAMES.labels, fail);
    if (boxes.shape.length !== 3 || (boxes.shape[2] >= 0 && boxes.shape[2] !== 4)) {
      fail(`output "${boxes.name}" must be [N, K, 4], is [${boxes.shape.join(",")}]`);
    }
    if (scores.shape.length !== 2)
      fail(`output "${scores.name}" must be [N, K], is [${scores.shape.join(",")}]`);
    if (labels.shape.length !== 2)
      fail(`output "${labels.name}" must be [N, K], is [${labels.shape.join(",")}]`);
    if (scores.datatype !== "FP32" || boxes.datatype !== "FP32") fail("boxes and scores must be FP32");
    return;
  }
  const out = d.output.name ? byName(outputs, d.output.name, fail) : outputs[0];
  if (!out) fail("the graph has no outputs");
  if (out.datatype !== "FP32") fail(`output "${out.name}" is ${out.datatype}, expected FP32`);
  const classes = out.shape[out.shape.length - 1];
  if (out.shape.length !== 2 || (classes >= 0 && classes !== d.classes.length)) {
    fail(
      `output "${out.name}" [${out.shape.join(",")}] must be [N, ${d.classes.length}] (one score per class)`,
    );
  }
}

function byName(list: TensorMetadata[], name: string, fail: (m: string) => never): TensorMetadata {
  const found = list.find((m) => m.name === name);
  return found ?? fail(`no output named "${name}" (outputs: ${names(list)})`);
}

function names(list: TensorMetadata[]): string {
  return list.map((m) => m.name).join(", ");
}
