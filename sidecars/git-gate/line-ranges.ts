// Lines of a file: which ones a commit added (as ranges, from git's hunk
// headers), and where each line sits in the file's bytes.

/** Sorted, disjoint, 1-based half-open [first, end) line ranges; null stands for every line. */
export type LineRanges = readonly (readonly [number, number])[] | null;

/** The lines in both: a line a merge added is one it added relative to every parent. */
export function intersectRanges(a: LineRanges, b: LineRanges): LineRanges {
  if (a === null) return b;
  if (b === null) return a;
  const out: [number, number][] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const [aStart, aEnd] = a[i]!;
    const [bStart, bEnd] = b[j]!;
    const start = Math.max(aStart, bStart);
    const end = Math.min(aEnd, bEnd);
    if (start < end) out.push([start, end]);
    if (aEnd < bEnd) i++;
    else j++;
  }
  return out;
}

/** Whether any line from `first` to `last` (inclusive) is in the ranges. */
export function touchesRanges(ranges: LineRanges, first: number, last: number): boolean {
  return ranges === null || ranges.some(([start, end]) => start <= last && first < end);
}

/** Line numbers of byte offsets in a buffer (lines end at \n). */
export class LineIndex {
  /** Byte offset where each line starts; line n (1-based) starts at starts[n - 1]. */
  readonly #starts: number[] = [0];
  readonly #length: number;

  constructor(bytes: Buffer) {
    for (let at = bytes.indexOf(10); at >= 0; at = bytes.indexOf(10, at + 1)) this.#starts.push(at + 1);
    this.#length = bytes.length;
  }

  get lineCount(): number {
    return this.#starts.length;
  }

  lineOf(offset: number): number {
    let low = 0;
    let high = this.#starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.#starts[mid]! <= offset) low = mid;
      else high = mid - 1;
    }
    return low + 1;
  }

  /** The line's bytes as [start, end), without its newline. */
  bounds(line: number): [number, number] {
    const start = this.#starts[line - 1] ?? this.#length;
    const next = this.#starts[line];
    return [start, next === undefined ? this.#length : next - 1];
  }
}
