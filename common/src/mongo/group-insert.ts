import mongoose from 'mongoose';

interface PendingInsert {
  doc: mongoose.Document;
  resolve: () => void;
  reject: (err: unknown) => void;
}

// Any model: the batches are keyed by model, whatever its document type.
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a heterogeneous map of models
type AnyModel = mongoose.Model<any>;

/** New documents waiting for this event-loop turn's insertMany, by model. */
const batches = new Map<AnyModel, PendingInsert[]>();

/** A batch never grows past this (a larger one is split over several turns). */
const MAX_BATCH = 500;

/**
 * Inserts a new document as save() would, grouped with the other new documents of the same model
 * inserted during this event-loop turn (group commit): one unordered insertMany for all of them, in
 * which each succeeds or fails on its own (a duplicate key refuses only its document, with the
 * same error save() throws). On FerretDB one insert statement costs about as much server CPU as a
 * batch of five, and the driver's per-command work is paid once.
 *
 * insertMany validates, sets timestamps and marks the documents stored, as save() does; 'save'
 * middleware does not run (the version plugin's has nothing to do for a new document). Use it only
 * for models without save hooks of their own.
 */
export function insertGrouped(doc: mongoose.Document): Promise<void> {
  const model = doc.constructor as AnyModel;
  let batch = batches.get(model);
  if (batch === undefined || batch.length >= MAX_BATCH) {
    const fresh: PendingInsert[] = [];
    batch = fresh;
    batches.set(model, fresh);
    setImmediate(() => void insertBatch(model, fresh));
  }
  const queue = batch;
  return new Promise((resolve, reject) => queue.push({ doc, resolve, reject }));
}

async function insertBatch(model: AnyModel, batch: PendingInsert[]): Promise<void> {
  if (batches.get(model) === batch) batches.delete(model);
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
