// The process answers: nothing else to check (the API's own readiness is its services' business, and a
// client pod that waited for it would only delay the pages that do not need it).
export function GET(): Response {
  return Response.json({ status: 'ok' });
}
