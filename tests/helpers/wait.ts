/**
 * Waits until a condition holds, polling; fails after a generous limit so a
 * broken feature fails the test instead of hanging it.
 *
 * @param condition Checked every few milliseconds.
 * @param what Describes the condition for the failure message.
 * @param limitMs How long to wait at most.
 */
export async function waitFor(condition: () => boolean, what: string, limitMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > limitMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
