/** The last N complete lines of a stream, fed in chunks. */
export class LineTail {
  private lines: string[] = [];
  private partial = "";
  constructor(private readonly keep: number) {}
  /** Adds a chunk and returns the lines it completed. */
  push(chunk: string): string[] {
    const parts = (this.partial + chunk).split("\n");
    this.partial = parts.pop() ?? "";
    this.lines.push(...parts);
    if (this.lines.length > this.keep) this.lines.splice(0, this.lines.length - this.keep);
    return parts;
  }
  text(): string {
    return [...this.lines, this.partial].join("\n");
  }
}
