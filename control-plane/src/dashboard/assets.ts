import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { APP_JS } from './static/app-js.js';
import { INDEX_HTML } from './static/index-html.js';
import { STYLE_CSS } from './static/style-css.js';

interface Asset {
  type: string;
  body: Buffer;
  etag: string;
}

function asset(type: string, text: string): Asset {
  const body = Buffer.from(text, 'utf8');
  return { type, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 16)}"` };
}

const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/', asset('text/html; charset=utf-8', INDEX_HTML)],
  ['/index.html', asset('text/html; charset=utf-8', INDEX_HTML)],
  ['/app.js', asset('text/javascript; charset=utf-8', APP_JS)],
  ['/style.css', asset('text/css; charset=utf-8', STYLE_CSS)],
]);

/**
 * Serves the dashboard's static files (embedded, so they ship inside dist). Revalidated by ETag on
 * every load: three small files, and a new control-plane version is picked up at once.
 */
export function serveAsset(req: IncomingMessage, res: ServerResponse, url: URL): boolean {
  const a = ASSETS.get(url.pathname);
  if (!a || (req.method !== 'GET' && req.method !== 'HEAD')) return false;
  const headers = {
    'content-type': a.type,
    etag: a.etag,
    'cache-control': 'no-cache',
    'x-content-type-options': 'nosniff',
    'content-security-policy': "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:",
  };
  if (req.headers['if-none-match'] === a.etag) {
    res.writeHead(304, headers);
    res.end();
    return true;
  }
  res.writeHead(200, { ...headers, 'content-length': a.body.length });
  res.end(req.method === 'HEAD' ? undefined : a.body);
  return true;
}
