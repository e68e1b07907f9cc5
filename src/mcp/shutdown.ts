/** How long cancelled calls get to clean up (remove half-started bottles, kill commands) before the process exits anyway. */
const CLEANUP_GRACE_MS = 60_000;

/**
 * After the server closed, the process ends by itself once the cancelled calls
 * have cleaned up. This timer, unreferenced, fires only if something still
 * keeps the process alive after the grace period.
 */
export function exitWhenIdle(): void {
  setTimeout(() => process.exit(0), CLEANUP_GRACE_MS).unref();
}
