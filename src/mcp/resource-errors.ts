import { ErrorCode, McpError } from "@modelcontextprotocol/sdk/types.js";
import { UserError } from "../user-error.js";

/**
 * A resource reader whose refusals (a UserError: no such bottle, not a bottle
 * id) reach the client as -32602 Invalid params, as the SDK answers a URI it
 * does not know, instead of -32603 Internal error. Other errors stay internal.
 */
export function refusalsAsInvalidParams<Args extends unknown[], Result>(read: (...args: Args) => Result): (...args: Args) => Result {
  return (...args) => {
    try {
      return read(...args);
    } catch (error) {
      if (error instanceof UserError) throw new McpError(ErrorCode.InvalidParams, error.message);
      throw error;
    }
  };
}
