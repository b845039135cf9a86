import type { Caller } from '../audit/ports.js';
import { InvalidArgumentError, NotFoundError } from '../domain/errors.js';
import { type Site, type SiteInput, validateSite } from '../domain/site.js';
import { nextPageToken, pageFrom } from './paging.js';
import type { SiteStore } from './registry-ports.js';

/** Sites (plants) with their lines, time zone and maintenance windows. */
export class SiteService {
  constructor(private readonly deps: { store: SiteStore }) {}

  async createSite(input: SiteInput, caller: Caller): Promise<Site> {
    const site = validateSite(input);
    return this.deps.store.createSite(site, { ...caller, action: 'site.create', target: site.id, detail: { site } });
  }

  async updateSite(input: SiteInput, caller: Caller): Promise<Site> {
    const site = validateSite(input);
    const audit = { ...caller, action: 'site.update', target: site.id, detail: { site } };
    const updated = await this.deps.store.updateSite(site, audit);
    if (!updated) throw new NotFoundError('site', site.id);
    return updated;
  }

  async getSite(id: string): Promise<Site> {
    if (!id) throw new InvalidArgumentError('id', 'required');
    const site = await this.deps.store.getSite(id);
    if (!site) throw new NotFoundError('site', id);
    return site;
  }

  async listSites(
    pageSize: number,
    pageToken: string,
  ): Promise<{ sites: Site[]; nextPageToken: string; total: number }> {
    const page = pageFrom(pageSize, pageToken, 's');
    const { sites, total } = await this.deps.store.listSites(page);
    return { sites, total, nextPageToken: nextPageToken(sites, page, 's') };
  }
}
