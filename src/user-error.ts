/**
 * An error whose message is meant for the person (or model) that caused it:
 * printed without a stack, and mapped to `isError` results by the MCP tools.
 */
export class UserError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = "UserError";
  }
}
