import type { ToolAnnotations } from "@modelcontextprotocol/sdk/types.js";
import type { z } from "zod";
import type { Engine } from "../src/engine/engine.js";

/** One `notifications/progress` update; `progress` must grow from one update to the next. */
export interface ProgressUpdate {
  progress: number;
  total?: number;
  message: string;
}

/** What a tool's handler gets besides its arguments. */
export interface ToolContext {
  engine: Engine;
  /** Aborted when the client cancels the call or disconnects. */
  signal: AbortSignal;
  /** Whether the client asked for progress (sent a progressToken). */
  wantsProgress: boolean;
  /**
   * Sends a progress notification; a no-op unless the client asked for
   * progress. Await the last one before returning: a notification that
   * arrives after the result is dropped by the client.
   */
  progress(update: ProgressUpdate): Promise<void>;
}

/** A tool's answer: the structured result (matching its output schema) and a short text for the model. */
export interface ToolOutput<Out> {
  structured: Out;
  text: string;
}

/**
 * One MCP tool: its definition (what clients list) and its handler. The
 * registry registers every tool the same way, so a tool file holds only what
 * is particular to that tool.
 */
export interface Tool<In extends z.ZodObject = z.ZodObject, Out extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  /** Teaches a model when to use the tool and what it gets back. */
  description: string;
  input: In;
  output: Out;
  annotations: ToolAnnotations;
  run(args: z.infer<In>, context: ToolContext): Promise<ToolOutput<z.infer<Out>>>;
}

/** Types a tool's handler from its schemas. */
export const defineTool = <In extends z.ZodObject, Out extends z.ZodObject>(tool: Tool<In, Out>): Tool<In, Out> => tool;
