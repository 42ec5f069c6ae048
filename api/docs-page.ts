import { operations, schemas, type OperationSpec } from './openapi';

/**
 * /api/docs: the document as one self-contained HTML page (no script, no stylesheet or font from
 * elsewhere: it works offline), rendered from the same tables as /api/openapi.json.
 */

const escape = (text: string): string =>
  text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);

const AUTH: Record<OperationSpec['auth'], string> = {
  none: 'anyone',
  user: 'signed in',
  owner: 'signed in, owner only',
};

function operation(op: OperationSpec): string {
  const id = `${op.method}-${op.path}`.replace(/[^\w-]/g, '_');
  const responses = Object.entries(op.responses)
    .map(
      ([status, r]) =>
        `<tr><td class="status s${status.charAt(0)}">${status}</td><td>${escape(r.description)}</td>` +
        `<td><a href="#schema-${r.schema}">${r.schema}</a></td>` +
        `<td>${(r.codes ?? []).map((c) => `<code>${escape(c)}</code>`).join(' ')}</td></tr>`,
    )
    .join('');
  const query = (op.query ?? [])
    .map((q) => `<li><code>${escape(q.name)}</code>: ${escape(q.description)}</li>`)
    .join('');
  return `<section class="op" id="${id}">
<h3><span class="method ${op.method}">${op.method.toUpperCase()}</span> <code>${escape(op.path)}</code></h3>
<p>${escape(op.summary)}. <small>Service: ${op.service}; auth: ${AUTH[op.auth]}.</small></p>
${op.body === undefined ? '' : `<p>Body: <a href="#schema-${op.body}">${op.body}</a></p>`}
${query === '' ? '' : `<p>Query:</p><ul>${query}</ul>`}
<table><tr><th>status</th><th>meaning</th><th>body</th><th>codes</th></tr>${responses}</table>
</section>`;
}

export function renderDocsPage(): string {
  const byService = new Map<string, OperationSpec[]>();
  for (const op of operations) byService.set(op.service, [...(byService.get(op.service) ?? []), op]);
  const nav = operations
    .map((op) => {
      const id = `${op.method}-${op.path}`.replace(/[^\w-]/g, '_');
      return `<li><a href="#${id}"><b>${op.method.toUpperCase()}</b> ${escape(op.path)}</a></li>`;
    })
    .join('');
  const sections = [...byService]
    .map(([service, ops]) => `<h2>${service}</h2>${ops.map(operation).join('\n')}`)
    .join('\n');
  const schemaList = Object.entries(schemas)
    .map(
      ([name, schema]) =>
        `<section id="schema-${name}"><h3>${name}</h3><pre>${escape(JSON.stringify(schema, null, 2))}</pre></section>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ticketing API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;display:flex;color:#1d232a}
nav{width:18rem;padding:1rem;background:#f3f5f7;height:100vh;overflow:auto;position:sticky;top:0;box-sizing:border-box}
nav ul{list-style:none;padding:0;margin:0}nav li{margin:.2rem 0;font-size:13px}nav a{color:#1d232a;text-decoration:none}
main{flex:1;padding:1rem 2rem;max-width:60rem}
.op{border:1px solid #dde2e7;border-radius:6px;padding:.2rem 1rem 1rem;margin:1rem 0}
.method{display:inline-block;min-width:4.2rem;text-align:center;border-radius:4px;color:#fff;font-size:13px;padding:2px 6px}
.get{background:#2f7bd8}.post{background:#2e9a5b}.put{background:#b8860b}.patch{background:#8e44ad}.delete{background:#c0392b}
table{border-collapse:collapse;width:100%}td,th{border-top:1px solid #e5e9ee;padding:4px 6px;text-align:left;vertical-align:top}
.status{font-weight:600}.s2{color:#2e9a5b}.s4{color:#c0392b}.s5{color:#8e44ad}
pre{background:#f6f8fa;padding:.6rem;overflow:auto;font-size:12px}code{font-size:13px}
</style></head>
<body><nav><b>ticketing API</b><p><a href="/api/openapi.json">openapi.json</a> (OpenAPI 3.1)</p><ul>${nav}</ul><p><a href="#schemas">Schemas</a></p></nav>
<main><h1>ticketing API</h1>
<p>Every route is under <code>/api</code>; bodies are JSON; errors are <code>{ "errors": [{ "message", "code", "field"? }] }</code>.
The session is a cookie set by signup and signin. The entry point may also answer 502/503/504 (<code>UPSTREAM_*</code>) on any route.</p>
${sections}
<h2 id="schemas">Schemas</h2>
${schemaList}
</main></body></html>
`;
}
