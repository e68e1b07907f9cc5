/**
 * Waits for every promise, then throws the first rejection in their order.
 * Unlike Promise.all, nothing is still running when the caller sees the
 * error, so its cleanup (removing a half-made bottle) does not race the rest.
 */
export async function allSettledOrThrow<T extends readonly unknown[]>(promises: readonly [...{ [K in keyof T]: Promise<T[K]> }]): Promise<T> {
  const settled = await Promise.allSettled(promises);
  const failed = settled.find((result): result is PromiseRejectedResult => result.status === "rejected");
  if (failed) throw failed.reason;
  return settled.map((result) => (result as PromiseFulfilledResult<unknown>).value) as unknown as T;
}
