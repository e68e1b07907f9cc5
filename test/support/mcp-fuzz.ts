import { ClientNotificationSchema, ClientRequestSchema, ErrorCode } from "@modelcontextprotocol/sdk/types.js";
import fc from "fast-check";
import type { z } from "zod";
import { tools } from "../../tools/registry.js";
import type { Tool } from "../../tools/tool.js";

// Malformed MCP messages for the fuzz suites, generated with fast-check from
// the schemas the server validates with: each tool's zod input schema and the
// SDK's zod schema of each MCP method. Every case carries what a correct
// server answers, so a suite only sends it and compares.

/** What the server must do with one message. */
export type Expected =
  /** An `isError` tool result for the message's id. */
  | { answer: "tool-error" }
  /** A JSON-RPC error with the message's id. */
  | { answer: "error"; code: number }
  /** A JSON-RPC error with id null: the message's id could not be read. */
  | { answer: "null-id-error"; code: number }
  /**
   * Nothing: a notification or a response is never answered. Over HTTP the
   * POST still gets a status: 202 when the message was taken, else 400 with
   * this code.
   */
  | { answer: "none"; code?: number };

export interface FuzzCase {
  category: string;
  expected: Expected;
  /** The text on the wire (one stdio line, one HTTP body), using `id` where the message has a readable id. */
  render(id: number | string): string;
}

const { InvalidRequest, MethodNotFound, InvalidParams, ParseError } = ErrorCode;

// --- Raw JSON -------------------------------------------------------------

// JSON has no literal for infinity, but JSON.parse reads 1e999 as one, so a
// peer can send it: values are rendered with ±1e999 in place of ±Infinity.
const INFINITY_MARK = "\u0000fuzz-infinity:";

export function rawJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "number" && !Number.isFinite(v) ? `${INFINITY_MARK}${v > 0 ? "+" : "-"}` : v))
    .replaceAll(`"${JSON.stringify(INFINITY_MARK).slice(1, -1)}+"`, "1e999")
    .replaceAll(`"${JSON.stringify(INFINITY_MARK).slice(1, -1)}-"`, "-1e999");
}

// --- Values ---------------------------------------------------------------

type Kind = "string" | "number" | "boolean" | "null" | "array" | "object";
const KINDS: readonly Kind[] = ["string", "number", "boolean", "null", "array", "object"];

const hugeString = fc
  .tuple(fc.constantFrom("x", "é", "😀", "\u0000", "\u202e", '"'), fc.integer({ min: 10_000, max: 50_000 }))
  .map(([unit, count]) => unit.repeat(count));
const oddString = fc.oneof(
  { arbitrary: fc.constantFrom("", " ", "../../../etc/passwd", "$(id)", "-rf", "\u202egnp.exe", "null", "0", "🧪🧪", "a\nb", "\ud800"), weight: 3 },
  { arbitrary: fc.string({ unit: "grapheme", maxLength: 40 }), weight: 3 },
  { arbitrary: fc.string({ unit: "binary", maxLength: 40 }), weight: 3 },
  { arbitrary: hugeString, weight: 1 },
);
const oddNumber = fc.oneof(
  fc.constantFrom(0, -1, 0.5, -0.5, 1e308, -1e308, 2 ** 53 + 2, Infinity, -Infinity, 1e-300),
  fc.integer({ min: -1_000_000, max: -1 }),
  fc.double({ noNaN: true }),
);
const anyJson = fc.jsonValue({ maxDepth: 2 });
const anyObject = fc.dictionary(fc.string({ maxLength: 8 }), anyJson, { maxKeys: 4 });

const valueOfKind: Record<Kind, fc.Arbitrary<unknown>> = {
  string: oddString,
  number: oddNumber,
  boolean: fc.boolean(),
  null: fc.constant(null),
  array: fc.array(anyJson, { maxLength: 4 }),
  object: anyObject,
};

// --- Reading zod schemas ----------------------------------------------------

/** The parts of a zod definition this generator reads. */
interface Def {
  type: string;
  innerType?: Schema;
  options?: Schema[];
  in?: Schema;
  element?: Schema;
  valueType?: Schema;
  entries?: Record<string, string | number>;
  values?: unknown[];
}
type Schema = z.core.$ZodType;
const defOf = (schema: Schema) => schema._zod.def as unknown as Def;

const WRAPPERS = new Set(["optional", "default", "prefault", "readonly", "catch", "nonoptional"]);

/** The JSON kinds a schema can accept (every kind where it cannot tell). */
function kindsOf(schema: Schema): Kind[] {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type)) return kindsOf(def.innerType!);
  switch (def.type) {
    case "nullable":
      return [...new Set<Kind>([...kindsOf(def.innerType!), "null"])];
    case "union":
      return [...new Set(def.options!.flatMap(kindsOf))];
    case "pipe":
      return kindsOf(def.in!);
    case "string":
    case "number":
    case "boolean":
    case "null":
    case "array":
    case "object":
      return [def.type];
    case "record":
      return ["object"];
    case "enum":
      return [...new Set(Object.values(def.entries!).map((v) => typeof v as Kind))];
    case "literal":
      return [...new Set(def.values!.map((v) => (v === null ? "null" : (typeof v as Kind))))];
    default:
      return [...KINDS];
  }
}

const isOptional = (schema: Schema) => ["optional", "default", "prefault"].includes(defOf(schema).type);

/** A value the schema may or may not accept: of a kind it takes, but odd (empty, huge, unicode, negative, infinite, near-miss). */
function plausible(schema: Schema): fc.Arbitrary<unknown> {
  const def = defOf(schema);
  if (WRAPPERS.has(def.type) || def.type === "nullable") return plausible(def.innerType!);
  switch (def.type) {
    case "union":
      return fc.oneof(...def.options!.map(plausible));
    case "pipe":
      return plausible(def.in!);
    case "enum": {
      const values = Object.values(def.entries!);
      return fc.oneof(fc.constantFrom(...values), fc.constantFrom(...values.map((v) => String(v).toUpperCase())), oddString);
    }
    case "array":
      return fc.array(plausible(def.element!), { maxLength: 3 });
    case "record":
      return fc.dictionary(oddString, plausible(def.valueType!), { maxKeys: 3 });
    default: {
      const kinds = kindsOf(schema);
      return kinds.length === KINDS.length ? anyJson : fc.oneof(...kinds.map((kind) => valueOfKind[kind]));
    }
  }
}

/** A value of a JSON kind the schema never accepts; undefined when it takes every kind. */
function wrongKind(schema: Schema): fc.Arbitrary<unknown> | undefined {
  const accepted = kindsOf(schema);
  const wrong = KINDS.filter((kind) => !accepted.includes(kind));
  return wrong.length === 0 ? undefined : fc.constantFrom(...wrong).chain((kind) => valueOfKind[kind]);
}

interface Defect {
  kind: string;
  apply(value: Record<string, unknown>): Record<string, unknown>;
}

/**
 * Objects an object schema should refuse: plausible field values, then one
 * to three defects (a field of the wrong kind, a required field missing, an
 * unknown field when `strict`, or just the odd values), kept only when the
 * schema does refuse them (`refuses` sees the object as the server will parse it).
 */
function malformedObject(
  shape: Record<string, Schema>,
  options: { strict: boolean; refuses: (value: Record<string, unknown>) => boolean },
): fc.Arbitrary<{ value: Record<string, unknown>; defect: string }> {
  const keys = Object.keys(shape);
  const required = keys.filter((key) => !isOptional(shape[key]!));
  const typed = keys.filter((key) => wrongKind(shape[key]!) !== undefined);
  const defects: fc.Arbitrary<Defect>[] = [fc.constant({ kind: "odd value", apply: (value) => value })];
  if (typed.length > 0) {
    defects.push(
      fc.constantFrom(...typed).chain((key) => wrongKind(shape[key]!)!.map((wrong): Defect => ({ kind: "wrong type", apply: (value) => ({ ...value, [key]: wrong }) }))),
    );
  }
  if (required.length > 0) {
    defects.push(
      fc.constantFrom(...required).map((key): Defect => ({
        kind: "missing field",
        apply: (value) => Object.fromEntries(Object.entries(value).filter(([name]) => name !== key)),
      })),
    );
  }
  if (options.strict) {
    const extraKey = fc.oneof(fc.constantFrom("__proto__", "constructor", "timeout", "id", ""), fc.string({ unit: "grapheme", maxLength: 12 }));
    defects.push(
      fc
        .tuple(extraKey.filter((key) => !keys.includes(key)), anyJson)
        .map(([key, extra]): Defect => ({ kind: "extra field", apply: (value) => ({ ...value, [key]: extra }) })),
    );
  }
  const base = fc.record(Object.fromEntries(keys.map((key) => [key, plausible(shape[key]!)])), { requiredKeys: [], noNullPrototype: true });
  return fc
    .tuple(base, fc.array(fc.oneof(...defects), { minLength: 1, maxLength: 3 }))
    .map(([start, chosen]) => ({ value: chosen.reduce((value, defect) => defect.apply(value), start as Record<string, unknown>), defect: chosen[0]!.kind }))
    .filter(({ value }) => options.refuses(JSON.parse(rawJson(value)) as Record<string, unknown>));
}

// --- Messages -----------------------------------------------------------------

const request = (id: number | string, method: string, params?: unknown) => ({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });

/**
 * A tools/call whose arguments the tool's schema refuses: an isError result.
 * The tool is held to its schema made strict: an argument it does not define
 * (`timeout` for `timeout_s`) is a mistake to report, not something to drop
 * silently. A "__proto__" key anywhere is refused as invalid params: copying
 * the arguments (as the SDK does) would drop it unseen.
 */
function badToolArguments(tool: Tool): fc.Arbitrary<FuzzCase> {
  const strictInput = tool.input.strict();
  return malformedObject(tool.input.shape as Record<string, Schema>, { strict: true, refuses: (args) => !strictInput.safeParse(args).success }).map(
    ({ value, defect }) => {
      const protoKey = rawJson(value).includes('"__proto__":');
      return {
        category: `tool arguments: ${protoKey ? "__proto__ key" : defect}`,
        expected: protoKey ? { answer: "error", code: InvalidParams } : { answer: "tool-error" },
        render: (id) => rawJson(request(id, "tools/call", { name: tool.name, arguments: value })),
      };
    },
  );
}

const toolNames = new Set(tools.map((tool) => tool.name));
const unknownTool: fc.Arbitrary<FuzzCase> = fc
  .tuple(oddString.filter((name) => !toolNames.has(name)), fc.option(anyObject, { nil: undefined }))
  .map(([name, args]) => ({
    category: "unknown tool",
    expected: { answer: "tool-error" },
    render: (id) => rawJson(request(id, "tools/call", { name, ...(args === undefined ? {} : { arguments: args }) })),
  }));

interface MethodSchema {
  method: string;
  schema: z.ZodObject;
}
const methodsOf = (union: { options: readonly z.ZodObject[] }): MethodSchema[] =>
  union.options.map((schema) => ({ method: (schema.shape.method as z.ZodLiteral<string>).value, schema }));
const requestMethods = methodsOf(ClientRequestSchema);
const notificationMethods = methodsOf(ClientNotificationSchema);
const knownMethods = new Set([...requestMethods, ...notificationMethods].map((m) => m.method));

/** The params object of a method schema, unwrapped from optional. */
function paramsShape({ schema }: MethodSchema): Record<string, Schema> {
  let params = schema.shape.params as Schema;
  while (WRAPPERS.has(defOf(params).type)) params = defOf(params).innerType!;
  return (params as z.ZodObject).shape as Record<string, Schema>;
}

/** Params an MCP method's own schema refuses (the SDK's schemas take unknown params, so no extra-field defect). */
function badMethodParams(method: MethodSchema): fc.Arbitrary<{ params: Record<string, unknown> | undefined; defect: string }> {
  const refuses = (params: Record<string, unknown> | undefined) => !method.schema.safeParse({ method: method.method, params }).success;
  const malformed = malformedObject(paramsShape(method), { strict: false, refuses }).map(({ value, defect }) => ({ params: value as Record<string, unknown> | undefined, defect }));
  return refuses(undefined) ? fc.oneof({ arbitrary: malformed, weight: 9 }, fc.constant({ params: undefined, defect: "no params" })) : malformed;
}

const badRequestParams = (methods: MethodSchema[]): fc.Arbitrary<FuzzCase> =>
  fc
    .constantFrom(...methods)
    .chain((method) => badMethodParams(method).map(({ params, defect }) => ({ method: method.method, params, defect })))
    .map(({ method, params, defect }) => ({
      category: `${method === "tools/call" ? "tools/call" : "method"} params: ${defect}`,
      expected: { answer: "error", code: InvalidParams },
      render: (id) => rawJson(request(id, method, params)),
    }));
const badToolsCallParams = badRequestParams(requestMethods.filter((m) => m.method === "tools/call"));
const badOtherParams = badRequestParams(requestMethods.filter((m) => m.method !== "tools/call"));

const notAnObject = fc.oneof(oddString, oddNumber, fc.boolean(), fc.constant(null), fc.array(anyJson, { maxLength: 3 }));
const anyMethod = fc.oneof(fc.constantFrom(...knownMethods), oddString);

/** Params that are not an object: the SDK's transports drop such a message unanswered (its client would wait forever), so the guard answers it. */
const paramsNotAnObject: fc.Arbitrary<FuzzCase> = fc.tuple(anyMethod, notAnObject).map(([method, params]) => ({
  category: "params not an object",
  expected: { answer: "error", code: InvalidParams },
  render: (id) => rawJson(request(id, method, params)),
}));

const unknownMethod: fc.Arbitrary<FuzzCase> = fc
  .tuple(oddString.filter((method) => !knownMethods.has(method)), fc.option(anyObject, { nil: undefined }))
  .map(([method, params]) => ({ category: "unknown method", expected: { answer: "error", code: MethodNotFound }, render: (id) => rawJson(request(id, method, params)) }));

/** A read of a resource that is not there (not a URL, no such bottle): Invalid params, as the SDK answers an unknown URI. */
const unknownResource: fc.Arbitrary<FuzzCase> = fc
  .oneof(oddString, fc.tuple(oddString, fc.constantFrom("activity", "supervise", "other")).map(([bottle, kind]) => `bottle://${bottle}/${kind}`))
  .map((uri) => ({
    category: "resources/read: unknown resource",
    expected: { answer: "error", code: InvalidParams },
    render: (id) => rawJson(request(id, "resources/read", { uri })),
  }));

const badId = fc.oneof(fc.constantFrom(null, 1.5, -0.25, true, false, Infinity), fc.array(anyJson, { maxLength: 2 }), anyObject);
const badVersion = fc.oneof(fc.constantFrom(undefined, "1.0", "2", 2, 2.0, null, "2.0 ", ""), oddString.filter((v) => v !== "2.0"));
const envelopeKeys = new Set(["jsonrpc", "id", "method", "params", "result", "error"]);
const strayKey = fc.string({ unit: "grapheme", minLength: 1, maxLength: 10 }).filter((key) => !envelopeKeys.has(key));

/** An envelope the SDK cannot read as any JSON-RPC message: Invalid Request, with the id when it is readable. */
const badEnvelope: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.tuple(badVersion, anyMethod).map(([jsonrpc, method]) => ({
    category: "envelope: bad jsonrpc version",
    expected: { answer: "error", code: InvalidRequest } as Expected,
    render: (id: number | string) => rawJson({ ...(jsonrpc === undefined ? {} : { jsonrpc }), id, method }),
  })),
  fc.tuple(badId, anyMethod).map(([badIdValue, method]) => ({
    category: "envelope: bad id",
    expected: { answer: "null-id-error", code: InvalidRequest } as Expected,
    render: () => rawJson({ jsonrpc: "2.0", id: badIdValue, method }),
  })),
  fc.tuple(fc.oneof(oddNumber, fc.boolean(), fc.constant(null), anyObject), fc.boolean()).map(([method, withId]) => ({
    category: "envelope: method not a string",
    expected: (withId ? { answer: "error", code: InvalidRequest } : { answer: "null-id-error", code: InvalidRequest }) as Expected,
    render: (id: number | string) => rawJson({ jsonrpc: "2.0", ...(withId ? { id } : {}), method }),
  })),
  fc.tuple(strayKey, anyJson, anyMethod, fc.boolean()).map(([key, value, method, withId]) => ({
    category: "envelope: unknown member",
    expected: (withId ? { answer: "error", code: InvalidRequest } : { answer: "null-id-error", code: InvalidRequest }) as Expected,
    render: (id: number | string) => rawJson({ jsonrpc: "2.0", ...(withId ? { id } : {}), method, [key]: value }),
  })),
  fc.constant({
    category: "envelope: no method, result or error",
    expected: { answer: "error", code: InvalidRequest } as Expected,
    render: (id: number | string) => rawJson({ jsonrpc: "2.0", id }),
  }),
);

const notAMessage: fc.Arbitrary<FuzzCase> = fc.oneof(oddString, oddNumber, fc.boolean(), fc.constant(null)).map((value) => ({
  category: "not an object",
  expected: { answer: "null-id-error", code: InvalidRequest },
  render: () => rawJson(value),
}));

/** A JSON array: stdio takes no batches, and a batch over HTTP with a bad message in it is refused whole. */
const badBatch: fc.Arbitrary<FuzzCase> = fc.array(fc.oneof(badEnvelope, paramsNotAnObject, badOtherParams, notAMessage), { maxLength: 4 }).map((cases) => ({
  category: "batch",
  expected: { answer: "null-id-error", code: InvalidRequest },
  render: (id) => `[${cases.map((c, index) => c.render(`${id}-${index}`)).join(",")}]`,
}));

const parses = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};

/** Text that is not JSON (one line: stdio frames messages by newline). */
const brokenFraming: fc.Arbitrary<FuzzCase> = fc
  .oneof(
    fc.constantFrom("{", "}", "[", '{"jsonrpc":"2.0","id":1,"method":"ping",}', "{'jsonrpc':'2.0','id':1,'method':'ping'}", '{"a":NaN}', "undefined", "\ufeff{}"),
    fc.tuple(fc.constantFrom(...requestMethods.map((m) => m.method)), fc.nat()).map(([method, cut]) => {
      const text = rawJson(request(1, method, {}));
      return text.slice(0, 1 + (cut % (text.length - 1)));
    }),
    fc.constant(`${rawJson(request(1, "ping"))}${rawJson(request(2, "ping"))}`),
    fc.string({ unit: "binary", minLength: 1, maxLength: 60 }),
  )
  .filter((text) => !/[\r\n]/.test(text) && text.trim() !== "" && !parses(text))
  .map((text) => ({ category: "broken JSON", expected: { answer: "null-id-error", code: ParseError }, render: () => text }));

/** Notifications are never answered, even malformed ones (over HTTP: 400 with the error). */
const badNotification: fc.Arbitrary<FuzzCase> = fc.oneof(
  fc.tuple(anyMethod, notAnObject).map(([method, params]) => ({
    category: "notification: params not an object",
    expected: { answer: "none", code: InvalidParams } as Expected,
    render: () => rawJson({ jsonrpc: "2.0", method, params }),
  })),
  fc
    .constantFrom(...notificationMethods)
    .chain((method) => badMethodParams(method).map(({ params }) => ({ method: method.method, params })))
    .map(({ method, params }) => ({
      category: "notification: bad params",
      expected: { answer: "none", code: InvalidParams } as Expected,
      render: () => rawJson({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) }),
    })),
  fc.tuple(oddString.filter((method) => !knownMethods.has(method)), fc.option(anyObject, { nil: undefined })).map(([method, params]) => ({
    category: "notification: unknown method",
    expected: { answer: "none" } as Expected,
    render: () => rawJson({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) }),
  })),
);

/** Responses to requests the server never sent; responses are never answered either. */
const strayResponse: fc.Arbitrary<FuzzCase> = fc.oneof(
  anyObject.map((result) => ({ category: "response: unknown id", expected: { answer: "none" } as Expected, render: (id: number | string) => rawJson({ jsonrpc: "2.0", id, result }) })),
  fc.oneof(fc.record({ result: notAnObject }), fc.record({ error: fc.oneof(notAnObject, fc.record({ message: oddString })) })).map((body) => ({
    category: "response: malformed",
    expected: { answer: "none", code: InvalidRequest } as Expected,
    render: (id: number | string) => rawJson({ jsonrpc: "2.0", id, ...body }),
  })),
);

/** Every kind of malformed message, weighted towards tool calls. */
export const malformedMessage: fc.Arbitrary<FuzzCase> = fc.oneof(
  { arbitrary: fc.oneof(...tools.map(badToolArguments)), weight: 30 },
  { arbitrary: unknownTool, weight: 4 },
  { arbitrary: badToolsCallParams, weight: 5 },
  { arbitrary: badOtherParams, weight: 10 },
  { arbitrary: paramsNotAnObject, weight: 10 },
  { arbitrary: unknownMethod, weight: 5 },
  { arbitrary: unknownResource, weight: 4 },
  { arbitrary: badEnvelope, weight: 10 },
  { arbitrary: notAMessage, weight: 3 },
  { arbitrary: badBatch, weight: 4 },
  { arbitrary: brokenFraming, weight: 10 },
  { arbitrary: badNotification, weight: 7 },
  { arbitrary: strayResponse, weight: 3 },
);

/** The run's seed: FUZZ_SEED when set (to replay a failure), else a fixed one. */
export const fuzzSeed = Number(process.env.FUZZ_SEED ?? 20_261_215);

/** `count` cases, the same ones for the same seed. */
export const malformedMessages = (count: number, seed = fuzzSeed): FuzzCase[] => fc.sample(malformedMessage, { seed, numRuns: count });
