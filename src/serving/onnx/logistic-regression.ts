/**
 * ONNX export of a (multinomial or binary) logistic-regression classifier, and the reference
 * implementation the export is tested against. Graph: X[batch, F] → MatMul(W[F, C]) → Add(b[C])
 * → Softmax(axis 1) = "probabilities" [batch, C] → ArgMax(axis 1) → Gather(classes) = "label" [batch].
 *
 * Weights are given as scikit-learn's `coef_` ([classes][features]); a binary model (one row of
 * weights, two classes) becomes softmax([0, z]) = [1 - σ(z), σ(z)].
 */
import { InvalidInputError } from "../../platform/errors.ts";
import { OnnxType, encodeModel, type Initializer, type Node } from "./model-proto.ts";

export interface LogisticRegressionModel {
  /** [classes][features] (sklearn `coef_`), or [1][features] for a binary model. */
  readonly weights: readonly (readonly number[])[];
  /** [classes] (sklearn `intercept_`), or [1] for a binary model. */
  readonly bias: readonly number[];
  /** Name of the model's input tensor; default "input". */
  readonly inputName?: string;
  /** Recorded in the model's metadata (`forja.feature_names`, JSON); their count must match. */
  readonly featureNames?: readonly string[];
  /** Class labels: integers (label output INT64) or strings (label output STRING); default 0..C-1. */
  readonly classes?: readonly number[] | readonly string[];
  /** Output names; defaults "label" and "probabilities". */
  readonly labelOutput?: string;
  readonly probabilitiesOutput?: string;
}

const bad = (field: string, reason: string): never => {
  throw InvalidInputError.field(field, reason);
};

function normalise(m: LogisticRegressionModel): { features: number; classes: number; w: number[][]; b: number[] } {
  const rows: readonly (readonly number[])[] = m.weights;
  if (rows.length === 0) bad("weights", "must be a non-empty array of rows ([classes][features])");
  const features = rows[0]?.length ?? 0;
  if (features === 0) bad("weights[0]", "must not be empty");
  rows.forEach((r, i) => {
    if (r.length !== features) bad(`weights[${i}]`, `has ${r.length} values; weights[0] has ${features}`);
    r.forEach((x: number, j: number) => Number.isFinite(x) || bad(`weights[${i}][${j}]`, "must be a finite number"));
  });
  if (m.bias.length !== rows.length) bad("bias", `has ${m.bias.length} values; expected ${rows.length} (one per row of weights)`);
  m.bias.forEach((x, j) => Number.isFinite(x) || bad(`bias[${j}]`, "must be a finite number"));
  const w = rows.map((r) => [...r]);
  const b = [...m.bias];
  if (rows.length === 1) {
    // Binary: class 0 gets a zero logit.
    w.unshift(new Array<number>(features).fill(0));
    b.unshift(0);
  }
  return { features, classes: w.length, w, b };
}

/** The ONNX bytes of the classifier. */
export function exportLogisticRegressionOnnx(m: LogisticRegressionModel): Uint8Array {
  const { features, classes, w, b } = normalise(m);
  const input = m.inputName ?? "input";
  const labelOut = m.labelOutput ?? "label";
  const probOut = m.probabilitiesOutput ?? "probabilities";
  if (m.featureNames && m.featureNames.length !== features) bad("featureNames", `has ${m.featureNames.length} names; the model has ${features} features`);
  const labels = m.classes;
  if (labels && labels.length !== classes) bad("classes", `has ${labels.length} labels; the model has ${classes} classes`);
  const stringLabels = labels !== undefined && labels.some((c) => typeof c === "string");
  if (labels && !stringLabels && labels.some((c) => !Number.isInteger(c))) bad("classes", "must be all integers or all strings");

  // W is [F, C]: the transpose of coef_.
  const wt = new Float32Array(features * classes);
  for (let f = 0; f < features; f++) for (let c = 0; c < classes; c++) wt[f * classes + c] = w[c]?.[f] ?? 0;
  const initializers: Initializer[] = [
    { name: "coef", dims: [features, classes], float: wt },
    { name: "intercept", dims: [classes], float: Float32Array.from(b) },
    stringLabels
      ? { name: "classes", dims: [classes], strings: (labels as readonly (string | number)[]).map(String) }
      : { name: "classes", dims: [classes], int64: (labels ?? Array.from({ length: classes }, (_, i) => i)).map((c) => BigInt(c)) },
  ];
  const nodes: Node[] = [
    { opType: "MatMul", inputs: [input, "coef"], outputs: ["logits_raw"], name: "matmul" },
    { opType: "Add", inputs: ["logits_raw", "intercept"], outputs: ["logits"], name: "add" },
    { opType: "Softmax", inputs: ["logits"], outputs: [probOut], name: "softmax", attributes: [{ name: "axis", int: 1 }] },
    { opType: "ArgMax", inputs: [probOut], outputs: ["label_index"], name: "argmax", attributes: [{ name: "axis", int: 1 }, { name: "keepdims", int: 0 }] },
    { opType: "Gather", inputs: ["classes", "label_index"], outputs: [labelOut], name: "label", attributes: [{ name: "axis", int: 0 }] },
  ];
  return encodeModel({
    irVersion: 8,
    opset: 13,
    producerName: "forja",
    producerVersion: "1",
    metadata: {
      "forja.model_type": "logistic_regression",
      ...(m.featureNames ? { "forja.feature_names": JSON.stringify(m.featureNames) } : {}),
    },
    graph: {
      name: "logistic_regression",
      nodes,
      initializers,
      inputs: [{ name: input, elemType: OnnxType.FLOAT, shape: ["batch", features] }],
      outputs: [
        { name: labelOut, elemType: stringLabels ? OnnxType.STRING : OnnxType.INT64, shape: ["batch"] },
        { name: probOut, elemType: OnnxType.FLOAT, shape: ["batch", classes] },
      ],
    },
  });
}

/** Reference: probabilities and labels for rows of features, in float64. */
export function predictLogisticRegression(m: LogisticRegressionModel, rows: readonly (readonly number[])[]): { probabilities: number[][]; labels: (number | string)[] } {
  const { classes, w, b } = normalise(m);
  const probabilities: number[][] = [];
  const labels: (number | string)[] = [];
  for (const x of rows) {
    const z = Array.from({ length: classes }, (_, c) => (w[c] ?? []).reduce((s, wf, f) => s + wf * (x[f] ?? 0), b[c] ?? 0));
    const max = Math.max(...z);
    const e = z.map((v) => Math.exp(v - max));
    const sum = e.reduce((s, v) => s + v, 0);
    const p = e.map((v) => v / sum);
    probabilities.push(p);
    const arg = p.indexOf(Math.max(...p));
    labels.push(m.classes?.[arg] ?? arg);
  }
  return { probabilities, labels };
}
