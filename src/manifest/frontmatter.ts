import { isMap, isScalar, isSeq, LineCounter, parseDocument, visit, type Document, type Node } from "yaml";
import { ManifestError } from "./errors.js";

// A manifest is Markdown: YAML frontmatter between two `---` lines, then a body.
// The parsed YAML document is kept (behind `lineOf`) so that schema problems,
// found later on plain data, can still be reported at their line.

export interface Frontmatter {
  data: Record<string, unknown>;
  body: string;
  /**
   * The file line of the key at `path` (of the list item, for an index); when
   * the path does not exist, the line of the deepest part of it that does.
   */
  lineOf(path: readonly PropertyKey[]): number | undefined;
}

const FENCE = "---";

export function parseFrontmatter(text: string, file: string): Frontmatter {
  const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
  const isFence = (line: string | undefined) => line !== undefined && line.trimEnd() === FENCE;
  const fail = (line: number, message: string): never => {
    throw new ManifestError([{ file, keyPath: "", line, message }]);
  };
  if (!isFence(lines[0])) {
    fail(1, 'no frontmatter: the file must start with a line "---", then YAML keys, then a line "---"');
  }
  const close = lines.findIndex((line, i) => i > 0 && isFence(line));
  if (close === -1) fail(1, 'frontmatter is not closed: add a line "---" after the YAML keys');

  // The YAML starts on the file's second line.
  const toFileLine = (yamlLine: number) => yamlLine + 1;
  const lineCounter = new LineCounter();
  const document = parseDocument(lines.slice(1, close).join("\n"), { lineCounter, prettyErrors: false });
  const lineAt = (offset: number) => toFileLine(lineCounter.linePos(offset).line);

  const [yamlError] = document.errors;
  if (yamlError) fail(lineAt(yamlError.pos[0]), `invalid YAML: ${yamlError.message}`);
  visit(document, {
    Pair(_, pair) {
      // A JS object can only hold string keys: `? [a, b]` would silently become "[ a, b ]".
      if (!isScalar(pair.key)) fail(lineAt((pair.key as Node | null)?.range?.[0] ?? 0), "invalid YAML: keys must be plain names");
    },
  });

  const data = toPlainData(document, file, lineAt);
  const body = lines.slice(close + 1).join("\n").trim();
  return { data, body, lineOf: (path) => lineOfPath(document, path, lineAt) };
}

function toPlainData(document: Document.Parsed, file: string, lineAt: (offset: number) => number): Record<string, unknown> {
  const top = document.contents;
  if (top === null) return {}; // only comments (or nothing) between the fences
  if (!isMap(top)) {
    throw new ManifestError([
      { file, keyPath: "", line: lineAt(top.range[0]), message: "frontmatter must be a mapping of keys (key: value lines)" },
    ]);
  }
  try {
    return document.toJS() as Record<string, unknown>;
  } catch (err) {
    // e.g. an alias to an anchor that does not exist, or too many aliases
    throw new ManifestError([{ file, keyPath: "", line: lineAt(top.range[0]), message: `invalid YAML: ${(err as Error).message}` }]);
  }
}

function lineOfPath(document: Document.Parsed, path: readonly PropertyKey[], lineAt: (offset: number) => number): number | undefined {
  let node: unknown = document.contents;
  let found: Node | null | undefined = isMap(node) || isSeq(node) ? (node as Node) : undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => isScalar(item.key) && String(item.key.value) === String(segment));
      if (!pair) break;
      found = pair.key as Node;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item = node.items[segment];
      if (item === undefined) break;
      found = item as Node;
      node = item;
    } else {
      break;
    }
  }
  const offset = found?.range?.[0];
  return offset === undefined ? undefined : lineAt(offset);
}
