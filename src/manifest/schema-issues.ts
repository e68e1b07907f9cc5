import { z } from "zod";
import { closestMatch, didYouMean } from "./did-you-mean.js";
import { formatKeyPath } from "./errors.js";
import type { ManifestIssue } from "./schema.js";

// Turns zod's issues into messages a person can act on: the key path, the line,
// what was expected against what was written, and a near-miss suggestion whose
// candidates come from the schema itself (never a second, hand-kept key list).

type ZodIssue = z.core.$ZodIssue;

export interface IssueContext {
  file: string;
  /** The schema the data was checked against (a whole frontmatter). */
  schema: z.ZodType;
  data: unknown;
  lineOf(path: readonly PropertyKey[]): number | undefined;
  /** A hint for a top-level key that belongs to the other kind of manifest. */
  wrongKindHint?(key: string): string | undefined;
}

export function manifestIssuesFromZod(issues: readonly ZodIssue[], context: IssueContext): ManifestIssue[] {
  // `tokenref: X` is reported as an unknown key with "did you mean token_ref";
  // saying that token_ref is also missing would only repeat it.
  const suggestedPaths = new Set(
    issues.flatMap((issue) =>
      issue.code !== "unrecognized_keys"
        ? []
        : issue.keys.flatMap((key) => {
            const near = closestMatch(key, allowedKeysAt(context.schema, issue.path, context.data));
            return near === undefined ? [] : [formatKeyPath([...issue.path, near])];
          }),
    ),
  );
  return issues
    .flatMap((issue) => convert(issue, context))
    .filter((issue) => !(issue.message === MISSING && suggestedPaths.has(issue.keyPath)))
    .sort((a, b) => (a.line ?? 0) - (b.line ?? 0));
}

const MISSING = "missing required key";

function convert(issue: ZodIssue, context: IssueContext): ManifestIssue[] {
  const at = (path: readonly PropertyKey[], message: string, hint?: string): ManifestIssue => ({
    file: context.file,
    keyPath: formatKeyPath(path),
    line: context.lineOf(path),
    message,
    ...(hint === undefined ? {} : { hint }),
  });
  const value = valueAt(context.data, issue.path);

  switch (issue.code) {
    case "unrecognized_keys":
      return issue.keys.map((key) => at([...issue.path, key], "unknown key", unknownKeyHint(key, issue.path, context)));
    case "invalid_type":
      if (value === undefined) return [at(issue.path, MISSING)];
      return [at(issue.path, `expected ${expectedType(issue.expected)}, got ${describeValue(value)}`)];
    case "invalid_value":
      return [at(issue.path, `expected ${oneOf(issue.values)}, got ${describeValue(value)}`, nearMissValue(value, issue.values))];
    case "invalid_union":
      return convertUnion(issue, value, context, at);
    case "invalid_key":
      // The path ends at the offending key itself, so the line is the key's.
      return [at(issue.path, issue.issues.map((inner) => inner.message).join("; "))];
    case "too_small":
      if (issue.minimum === 1 && (issue.origin === "array" || issue.origin === "string")) {
        return [at(issue.path, "must not be empty (leave the key out instead)")];
      }
      return [at(issue.path, issue.message)];
    case "invalid_format":
      if (issue.format === "url") return [at(issue.path, `must be a URL (such as https://git.example.com/api/v1), got ${describeValue(value)}`)];
      return [at(issue.path, issue.message)];
    default:
      return [at(issue.path, issue.message)];
  }
}

function convertUnion(
  issue: Extract<ZodIssue, { code: "invalid_union" }>,
  value: unknown,
  context: IssueContext,
  at: (path: readonly PropertyKey[], message: string, hint?: string) => ManifestIssue,
): ManifestIssue[] {
  if ("discriminator" in issue && issue.discriminator !== undefined && "options" in issue && issue.options) {
    // A discriminated union whose discriminator (e.g. `provider`) has no match; the path ends at it.
    if (value === undefined) return [at(issue.path, MISSING, `expected ${oneOf(issue.options)}`)];
    return [at(issue.path, `expected ${oneOf(issue.options)}, got ${describeValue(value)}`, nearMissValue(value, issue.options))];
  }
  const branches = issue.errors;
  const rootOnly = branches.every((branch) =>
    branch.every((inner) => inner.path.length === 0 && (inner.code === "invalid_type" || inner.code === "invalid_value")),
  );
  if (branches.length > 0 && rootOnly) {
    // Every alternative failed on the value's type: say what any of them would have taken.
    const expected = new Set<string>();
    for (const inner of branches.flat()) {
      if (inner.code === "invalid_type") expected.add(expectedType(inner.expected));
      if (inner.code === "invalid_value") inner.values.forEach((v) => expected.add(JSON.stringify(v)));
    }
    return [at(issue.path, `expected ${joinOr([...expected])}, got ${describeValue(value)}`)];
  }
  // Otherwise report the alternative that got furthest into the value.
  const depth = (branch: readonly ZodIssue[]) => Math.max(0, ...branch.map((inner) => inner.path.length));
  const furthest = [...branches].sort((a, b) => depth(b) - depth(a))[0];
  if (!furthest || furthest.length === 0) return [at(issue.path, issue.message)];
  return furthest.flatMap((inner) => convert({ ...inner, path: [...issue.path, ...inner.path] } as ZodIssue, context));
}

function unknownKeyHint(key: string, parentPath: readonly PropertyKey[], context: IssueContext): string | undefined {
  if (parentPath.length === 0) {
    const wrongKind = context.wrongKindHint?.(key);
    if (wrongKind) return wrongKind;
  }
  const allowed = allowedKeysAt(context.schema, parentPath, context.data);
  const near = closestMatch(key, allowed);
  if (near !== undefined) return didYouMean(near);
  return allowed.length > 0 ? `allowed keys: ${allowed.join(", ")}` : undefined;
}

function nearMissValue(value: unknown, options: readonly unknown[]): string | undefined {
  if (typeof value !== "string") return undefined;
  const near = closestMatch(value, options.filter((o): o is string => typeof o === "string"));
  return near === undefined ? undefined : didYouMean(near);
}

/** The keys an object schema at `path` accepts (for unions: the alternatives the data still fits). */
export function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): string[] {
  const keys = new Set<string>();
  for (const object of objectSchemasAt(schema, path, data)) Object.keys(object.shape).forEach((k) => keys.add(k));
  return [...keys];
}

function objectSchemasAt(schema: z.ZodType, path: readonly PropertyKey[], data: unknown): z.ZodObject[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodUnion) {
    return (inner.options as z.ZodType[]).flatMap((option) => objectSchemasAt(option, path, data));
  }
  const [head, ...rest] = path;
  if (head === undefined) return inner instanceof z.ZodObject && fitsLiterals(inner, data) ? [inner] : [];
  const child = valueAt(data, [head]);
  if (inner instanceof z.ZodObject) {
    const field = (inner.shape as Record<string, z.ZodType>)[String(head)];
    return field ? objectSchemasAt(field, rest, child) : [];
  }
  if (inner instanceof z.ZodArray) return objectSchemasAt(inner.element as z.ZodType, rest, child);
  if (inner instanceof z.ZodRecord) return objectSchemasAt(inner.valueType as z.ZodType, rest, child);
  return [];
}

/** False when `data` gives a literal field (a discriminator) a value this alternative does not take. */
function fitsLiterals(object: z.ZodObject, data: unknown): boolean {
  return Object.entries(object.shape as Record<string, z.ZodType>).every(([key, field]) => {
    const value = valueAt(data, [key]);
    return !(field instanceof z.ZodLiteral) || value === undefined || field.values.has(value as z.core.util.Literal);
  });
}

function unwrap(schema: z.ZodType): z.ZodType {
  if (schema instanceof z.ZodOptional || schema instanceof z.ZodNullable || schema instanceof z.ZodDefault) {
    return unwrap(schema.unwrap() as z.ZodType);
  }
  if (schema instanceof z.ZodPipe) return unwrap(schema.in as z.ZodType);
  return schema;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[segment];
  }
  return value;
}

function expectedType(expected: string): string {
  const words: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "a boolean (true or false)",
    array: "a list",
    tuple: "a list",
    object: "a mapping",
    record: "a mapping",
    map: "a mapping",
    null: "null",
  };
  return words[expected] ?? expected;
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const shown = JSON.stringify(value) ?? String(value);
  return shown.length > 60 ? `${shown.slice(0, 57)}...` : shown;
}

const oneOf = (values: readonly unknown[]) =>
  values.length === 1 ? JSON.stringify(values[0]) : `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;

function joinOr(words: readonly string[]): string {
  if (words.length <= 1) return words.join("");
  return `${words.slice(0, -1).join(", ")} or ${words[words.length - 1]}`;
}
