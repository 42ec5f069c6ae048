import Ajv2020, { type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import { operations, schemas, type OperationSpec } from './openapi';

/**
 * Checks an API answer against the document: the route must be in it, the status must be one it
 * describes for that route, the body must match the status's schema, and an error's code must be
 * one it lists. The e2e client (test/e2e/harness.ts) runs every answer through this, so a response
 * the document does not describe fails the test that received it, naming the route and the status.
 */
export class ResponseValidator {
  private readonly ajv: Ajv2020;
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly routes: Array<{ op: OperationSpec; pattern: RegExp }>;

  constructor() {
    this.ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(this.ajv);
    // The schemas refer to each other as OpenAPI does (#/components/schemas/Name): register the
    // components under that document so those references resolve.
    this.ajv.addKeyword('components');
    this.ajv.addSchema({ $id: 'openapi', components: { schemas } });
    this.routes = operations.map((op) => ({
      op,
      pattern: new RegExp(`^${op.path.replace(/\{\w+\}/g, '[^/]+')}$`),
    }));
  }

  /** The compiled schema of a component, e.g. "Ticket". */
  schema(name: string): ValidateFunction {
    let validate = this.compiled.get(name);
    if (validate === undefined) {
      validate = this.ajv.getSchema(`openapi#/components/schemas/${name}`);
      if (validate === undefined) throw new Error(`api/openapi.ts has no schema ${name}`);
      this.compiled.set(name, validate);
    }
    return validate;
  }

  /** undefined when the answer is described; otherwise what is wrong, naming route and status. */
  check(method: string, url: string, status: number, body: unknown): string | undefined {
    const path = url.split('?', 1)[0] ?? '';
    const route = this.routes.find((r) => r.op.method === method.toLowerCase() && r.pattern.test(path));
    const shown = JSON.stringify(body)?.slice(0, 500) ?? String(body);
    if (route === undefined) {
      // Any path nobody serves answers the JSON 404 of the gateway or the services' catch-all.
      const code = (body as { errors?: Array<{ code?: string }> } | undefined)?.errors?.[0]?.code;
      if (status === 404 && code === 'ROUTE_NOT_FOUND' && this.schema('Error')(body)) return undefined;
      return `${method.toUpperCase()} ${path} is not in api/openapi.ts (answered ${status})`;
    }
    const name = `${method.toUpperCase()} ${route.op.path}`;
    const response = route.op.responses[status];
    if (response === undefined) {
      const known = Object.keys(route.op.responses).join(', ');
      return `${name} answered ${status}, a status api/openapi.ts does not describe for it (it lists ${known}): ${shown}`;
    }
    const validate = this.schema(response.schema);
    if (!validate(body)) {
      const problems = (validate.errors ?? [])
        .map(
          (e) =>
            `${e.instancePath === '' ? '(body)' : e.instancePath} ${e.message ?? ''}${e.params && 'additionalProperty' in e.params ? ` (${String(e.params['additionalProperty'])})` : ''}`,
        )
        .join('; ');
      return `${name} ${status}: the body does not match ${response.schema} in api/openapi.ts: ${problems}. Body: ${shown}`;
    }
    if (response.codes !== undefined) {
      const codes = ((body as { errors?: Array<{ code?: string }> }).errors ?? []).map((e) => e.code);
      const listed: readonly string[] = response.codes;
      const unlisted = codes.filter((code) => code === undefined || !listed.includes(code));
      if (unlisted.length > 0) {
        return `${name} ${status}: error code ${unlisted.map(String).join(', ')} is not listed in api/openapi.ts (it lists ${response.codes.join(', ')})`;
      }
    }
    return undefined;
  }
}
