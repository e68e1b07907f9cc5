import { z } from "zod";

// What the dashboard tells every open page that is not part of a bottle's
// state: how a start from the dashboard goes, and problems reading the
// engine. A notice with the key of an earlier one replaces it on the page.

export const Notice = z.object({
  key: z.string(),
  level: z.enum(["info", "error"]),
  text: z.string(),
});
export type Notice = z.infer<typeof Notice>;

export class Notices {
  readonly #listeners = new Set<(notice: Notice) => void>();

  publish(notice: Notice): void {
    for (const listener of this.#listeners) listener(notice);
  }

  /** Returns the unsubscribe. */
  subscribe(listener: (notice: Notice) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
