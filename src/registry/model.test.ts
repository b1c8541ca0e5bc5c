import { describe, expect, it } from "vitest";
import { InvalidInputError } from "../platform/errors.ts";
import { canonicalStage, isUnder, parseModelsUri, parseRunsUri, parseVersion, validateAlias, validateSource, validateTagKey } from "./model.ts";

describe("registry rules", () => {
  it("aliases: word characters and dashes, ≤255, not latest or v<digits>", () => {
    for (const ok of ["champion", "prod-2", "v1x", "x_y", "a".repeat(255), "V"]) expect(validateAlias(ok)).toBe(ok);
    for (const bad of ["", "latest", "Latest", "v1", "V007", "a b", "a.b", "a/b", "a".repeat(256)]) {
      expect(() => validateAlias(bad), bad).toThrow(InvalidInputError);
    }
  });

  it("stages are case-insensitive", () => {
    expect(canonicalStage("production")).toBe("Production");
    expect(canonicalStage(" NONE ")).toBe("None");
    expect(() => canonicalStage("prod")).toThrow(/Invalid Model Version stage: prod/);
  });

  it("versions are positive integers given as strings or numbers", () => {
    expect(parseVersion("12")).toBe(12);
    expect(parseVersion(3)).toBe(3);
    for (const bad of ["0", "-1", "1.0", "x", "", "1e3"]) expect(() => parseVersion(bad), bad).toThrow(InvalidInputError);
  });

  it("tag keys: MLflow's character set, no path tricks, ≤250", () => {
    expect(validateTagKey("mlflow.prompt.is_prompt")).toBe("mlflow.prompt.is_prompt");
    for (const bad of ["", "a#b", "/abs", "a/../b", "a//b", "k".repeat(251)]) expect(() => validateTagKey(bad), bad).toThrow(InvalidInputError);
  });

  it("sources: remote or mlflow URIs, never local paths or '..'", () => {
    for (const ok of ["runs:/abc/model", "mlflow-artifacts:/1/abc/artifacts/model", "models:/m-123", "s3://b/k", "https://h/x"]) expect(validateSource(ok)).toBe(ok);
    for (const bad of ["/tmp/m", "file:///tmp/m", "model", "C:\\m", "s3://b/../k", "runs:/a/%2e%2e/x"]) expect(() => validateSource(bad), bad).toThrow(InvalidInputError);
  });

  it("parses runs:/ and models:/ URIs", () => {
    expect(parseRunsUri("runs:/abc/model/sub/")).toEqual({ runId: "abc", path: "model/sub" });
    expect(parseModelsUri("models:/m-abc")).toEqual({ kind: "model_id", modelId: "m-abc" });
    expect(parseModelsUri("models:/fraud/3")).toEqual({ kind: "version", name: "fraud", version: 3 });
    expect(parseModelsUri("models:/fraud@champion")).toEqual({ kind: "alias", name: "fraud", alias: "champion" });
    expect(parseModelsUri("models:/fraud/staging")).toEqual({ kind: "stage", name: "fraud", stage: "Staging" });
    expect(parseModelsUri("models:/fraud/latest")).toEqual({ kind: "stage", name: "fraud", stage: "latest" });
    expect(() => parseModelsUri("models:/fraud/bogus")).toThrow(InvalidInputError);
    expect(parseModelsUri("runs:/x/y")).toBeUndefined();
  });

  it("isUnder compares whole path segments", () => {
    expect(isUnder("mlflow-artifacts:/1/r/artifacts/model", "mlflow-artifacts:/1/r/artifacts")).toBe(true);
    expect(isUnder("mlflow-artifacts:/1/r/artifacts", "mlflow-artifacts:/1/r/artifacts/")).toBe(true);
    expect(isUnder("mlflow-artifacts:/1/r/artifactsX/m", "mlflow-artifacts:/1/r/artifacts")).toBe(false);
    expect(isUnder("mlflow-artifacts:///1/r/artifacts/m", "mlflow-artifacts:/1/r/artifacts")).toBe(true);
  });
});
