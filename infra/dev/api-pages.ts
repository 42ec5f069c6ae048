import type { ServerResponse } from 'node:http';
import { renderDocsPage } from '../../api/docs-page';
import { openApiDocument } from '../../api/openapi';
import { sendJson, type GatewayPage } from './gateway';
import { sendHtml } from './status-page';

/** The API document at /api/openapi.json and its readable page at /api/docs (api/openapi.ts). */
export function apiPages(): GatewayPage[] {
  const docs = renderDocsPage();
  return [
    { path: '/api/openapi.json', handle: (_req, res: ServerResponse) => sendJson(res, 200, openApiDocument) },
    { path: '/api/docs', handle: (_req, res: ServerResponse) => sendHtml(res, docs) },
  ];
}
