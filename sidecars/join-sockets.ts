import type { Duplex } from "node:stream";

// Copies bytes both ways between two connected sockets (a CONNECT tunnel, a
// forwarded TCP connection). Both must allow half-open connections: a FIN from
// one side ends only the matching direction, so a client that shuts down its
// sending side still gets the whole reply. An error or abrupt close on either
// side tears down both, so no socket is left dangling.

export function joinSockets(a: Duplex, b: Duplex): void {
  const destroyBoth = (): void => {
    a.destroy();
    b.destroy();
  };
  a.on("error", destroyBoth);
  b.on("error", destroyBoth);
  // A clean close means the other side was already ended by pipe(); anything
  // else (a reset, a destroy) must not leave the peer open.
  a.on("close", () => {
    if (!b.writableEnded) b.destroy();
  });
  b.on("close", () => {
    if (!a.writableEnded) a.destroy();
  });
  a.pipe(b);
  b.pipe(a);
}
