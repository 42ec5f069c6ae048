import mongoose from 'mongoose';

interface PendingInsert {
  doc: mongoose.Document;
  resolve: () => void;
  reject: (err: unknown) => void;
}

// Any model: the batches are keyed by model, whatever its document type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous map of models
type AnyModel = mongoose.Model<any>;

/** Per model: the batch being filled, and whether one is with the server. */
interface ModelQueue {
  waiting: PendingInsert[];
  inFlight: number;
  scheduled: boolean;
}

const queues = new Map<AnyModel, ModelQueue>();

/** A batch never grows past this (the rest waits for the next one). */
const MAX_BATCH = 500;

/** Batches of one model with the server at once (two or three measured no better than one). */
const MAX_IN_FLIGHT = 1;

/**
 * Inserts a new document as save() would, grouped with the other new documents of the same model
 * (group commit): one unordered insertMany for all of them, in which each succeeds or fails on its
 * own (a duplicate key refuses only its document, with the same error save() throws).
 *
 * A model has at most one batch with the server at a time. A document arriving while it is there
 * joins the next batch, which leaves as soon as the first one is answered; with nothing in flight a
 * batch leaves at the end of the current event-loop turn. So an idle service inserts at once, and
 * under load batches grow with the load instead of each request paying for its own command: the
 * driver's work per command (about as much client CPU as the rest of a request) and the server's
 * per statement (on FerretDB one insert statement costs about as much as a batch of five) are paid
 * once per batch. The server serialises writes to a collection anyway, so a second concurrent
 * insert would mostly wait there.
 *
 * insertMany validates, sets timestamps and marks the documents stored, as save() does; 'save'
 * middleware does not run (the version plugin's has nothing to do for a new document). Use it only
 * for models without save hooks of their own.
 */
export function insertGrouped(doc: mongoose.Document): Promise<void> {
  const model = doc.constructor as AnyModel;
  let queue = queues.get(model);
  if (queue === undefined) {
    queue = { waiting: [], inFlight: 0, scheduled: false };
    queues.set(model, queue);
  }
  const target = queue;
  const inserted = new Promise<void>((resolve, reject) => target.waiting.push({ doc, resolve, reject }));
  if (target.inFlight < MAX_IN_FLIGHT && !target.scheduled) {
    target.scheduled = true;
    setImmediate(() => {
      target.scheduled = false;
      sendNext(model, target);
    });
  }
  return inserted;
}

/** Sends waiting documents (up to MAX_BATCH each) in as many batches as may be in flight. */
function sendNext(model: AnyModel, queue: ModelQueue): void {
  while (queue.waiting.length > 0 && queue.inFlight < MAX_IN_FLIGHT) {
    const batch = queue.waiting.splice(0, MAX_BATCH);
    queue.inFlight += 1;
    void insertBatch(model, batch).finally(() => {
      queue.inFlight -= 1;
      sendNext(model, queue);
    });
  }
}

async function insertBatch(model: AnyModel, batch: PendingInsert[]): Promise<void> {
  try {
    await model.insertMany(
      batch.map((item) => item.doc),
      { ordered: false, throwOnValidationError: true },
    );
    for (const item of batch) item.resolve();
  } catch (err) {
    // Unordered: `results` says, document by document, whether it was stored (the document
    // itself) or why not. Only trust it when the server answered per document: for a network
    // error the driver reports a bulk error with no write errors, and mongoose then counts every
    // document as stored. Then nothing is known, and the underlying error (server selection,
    // network) is what every caller gets, so that a route answers 503.
    const { results, writeErrors, name } = err as { results?: unknown[]; writeErrors?: unknown[]; name?: string };
    const perDocument =
      results !== undefined &&
      (name === 'MongooseBulkWriteError' || (Array.isArray(writeErrors) && writeErrors.length > 0));
    // The driver keeps the underlying error in `errorResponse` (`cause` on newer versions).
    const { cause, errorResponse } = err as { cause?: unknown; errorResponse?: unknown };
    const underlying = cause instanceof Error ? cause : errorResponse instanceof Error ? errorResponse : err;
    batch.forEach((item, i) => {
      const result = results?.[i];
      if (perDocument && result === item.doc) item.resolve();
      else if (perDocument) item.reject(insertError(result, err));
      else item.reject(underlying);
    });
  }
}

/** What insertMany reports for one document that was not inserted, as the error save() would throw. */
function insertError(result: unknown, batchError: unknown): unknown {
  if (result instanceof Error) return result; // a ValidationError
  if (typeof result === 'object' && result !== null && typeof (result as { code?: unknown }).code === 'number') {
    const { code, errmsg } = result as { code: number; errmsg?: string };
    return new mongoose.mongo.MongoServerError({ message: errmsg ?? `insert failed (${code})`, code, errmsg });
  }
  return batchError;
}
