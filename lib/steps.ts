// Work written as a generator that yields between its steps, so one definition serves two callers:
// a small input runs straight through; a large one runs with the event loop let run between steps
// (the sidecar shares one event loop among every call of the pod and its health checks).

/** Runs steps to the end at once. */
export function runToEnd<T>(steps: Generator<unknown, T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

/** Runs steps to the end, awaiting `pause` at every yield. */
export async function runInPieces<T>(steps: Generator<unknown, T>, pause: () => Promise<void>): Promise<T> {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    await pause();
  }
}
