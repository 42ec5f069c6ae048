import type { TObject } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { eventSchemas, type EventData } from './events';
import { Subjects } from './subjects';

/**
 * Payload checks at the edge of every listener: a message that does not match its contract is
 * poison (it will never succeed), so the listener logs and sets it aside instead of crashing or
 * looping. The checks are the schemas of events.ts compiled once, at load, into plain functions.
 */
const checks = new Map<Subjects, TypeCheck<TObject>>(
  Object.values(Subjects).map((subject) => [subject, TypeCompiler.Compile(eventSchemas[subject].properties.data)]),
);

export function isValidEventData<S extends Subjects>(subject: S, data: unknown): data is EventData<S> {
  return checks.get(subject)?.Check(data) ?? false;
}

/**
 * Why `data` is not a valid payload of `subject`, naming the first field that fails
 * ('ticket.id: Expected string to match …'); undefined when it is valid. The check comes first, so
 * a valid payload costs what isValidEventData costs.
 */
export function eventDataProblem(subject: Subjects, data: unknown): string | undefined {
  const check = checks.get(subject);
  if (check === undefined) return `no schema for subject ${subject}`;
  if (check.Check(data)) return undefined;
  const first = check.Errors(data).First();
  if (first === undefined) return 'does not match its schema';
  const field = first.path === '' ? 'payload' : first.path.slice(1).replaceAll('/', '.');
  return `${field}: ${first.message}`;
}
