const tails = new Map<string, Promise<unknown>>();

/**
 * Runs tasks that share a key one after the other within this process (tasks with different keys
 * run concurrently). Services wrap each read-modify-save of one record in it.
 *
 * Why: where conditional writes are atomic (ServerProfile.atomicConditionalWrites: MongoDB) a save
 * guarded by the version plugin fails for the second of two concurrent writers, which retries. The
 * test and dev server (FerretDB) reads the matching document and then rewrites it by _id without
 * re-checking the filter, so two guarded saves can both "win" and one change is lost. Serialising
 * per record inside the process keeps a single instance correct on both servers; across
 * instances, correctness rests on MongoDB's atomic updates.
 * Not re-entrant: a task must not wait for another task with the same key.
 */
export async function runExclusive<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = tails.get(key) ?? Promise.resolve();
  const run = previous.then(task);
  const tail = run.catch(() => undefined);
  tails.set(key, tail);
  try {
    return await run;
  } finally {
    if (tails.get(key) === tail) tails.delete(key);
  }
}
