/** How long CometQL work may hold the event loop before it lets timers (the mixer's too) and other clients run. */
const SLICE_MS = 10;

let sliceStart = performance.now();

/**
 * Yields to the event loop once SLICE_MS have passed since the last yield. Called between the units of a
 * long query (statements, rows): with the memory store every await resolves at once, and a query of
 * thousands of rows would otherwise hold the process for its whole length.
 */
export async function pace(): Promise<void> {
  if (performance.now() - sliceStart < SLICE_MS) return;
  await new Promise((resolve) => setImmediate(resolve));
  sliceStart = performance.now();
}
