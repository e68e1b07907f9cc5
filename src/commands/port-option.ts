import { UserError } from "../user-error.js";

/** Parses a `--port` value: 0 to 65535, where 0 asks the system for a free port. */
export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UserError(`--port ${value}: must be a port number (0 picks a free one)`, 2);
  return port;
}
