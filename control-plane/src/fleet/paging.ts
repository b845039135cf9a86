import { InvalidArgumentError } from '../domain/errors.js';
import type { Page } from '../domain/fleet.js';

export const MAX_PAGE = 1000;
export const DEFAULT_PAGE = 100;

/** Keyset page from a request: `kind` keeps a token of one listing from being used for another. */
export function pageFrom(pageSize: number, pageToken: string, kind: string): Page {
  if (pageSize > MAX_PAGE) throw new InvalidArgumentError('page.page_size', `at most ${MAX_PAGE}`);
  const limit = pageSize || DEFAULT_PAGE;
  if (!pageToken) return { limit };
  const text = Buffer.from(pageToken, 'base64url').toString('utf8');
  if (!text.startsWith(`${kind}:`))
    throw new InvalidArgumentError('page.page_token', 'not a token from a previous page');
  return { limit, afterId: text.slice(kind.length + 1) };
}

/** The token for the page after `items`, or '' when this page was the last. */
export function nextPageToken(items: { id: string }[], page: Page, kind: string): string {
  const last = items.at(-1);
  return items.length === page.limit && last ? Buffer.from(`${kind}:${last.id}`).toString('base64url') : '';
}
