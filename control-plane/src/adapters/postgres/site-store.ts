import { asc, eq, gt, sql } from 'drizzle-orm';
import type { AuditEntry } from '../../audit/ports.js';
import { AlreadyExistsError } from '../../domain/errors.js';
import type { Page } from '../../domain/fleet.js';
import type { Site, SiteInput } from '../../domain/site.js';
import type { SiteStore } from '../../fleet/registry-ports.js';
import { insertAudit } from './audit-store.js';
import type { Db } from './db.js';
import { sites } from './schema.js';

/** Sites in Postgres; each change commits with its audit entry. */
export class PostgresSiteStore implements SiteStore {
  constructor(private readonly deps: { db: Db }) {}

  async createSite(site: SiteInput, audit: AuditEntry): Promise<Site> {
    return this.deps.db.transaction(async (tx) => {
      const [row] = await tx.insert(sites).values(columns(site)).onConflictDoNothing().returning();
      if (!row) throw new AlreadyExistsError('site', site.id);
      await insertAudit(tx, audit);
      return toSite(row);
    });
  }

  async updateSite(site: SiteInput, audit: AuditEntry): Promise<Site | undefined> {
    return this.deps.db.transaction(async (tx) => {
      const { id, ...rest } = columns(site);
      const [row] = await tx.update(sites).set(rest).where(eq(sites.id, id)).returning();
      if (!row) return undefined;
      await insertAudit(tx, audit);
      return toSite(row);
    });
  }

  async getSite(id: string): Promise<Site | undefined> {
    const [row] = await this.deps.db.select().from(sites).where(eq(sites.id, id)).limit(1);
    return row && toSite(row);
  }

  async listSites(page: Page): Promise<{ sites: Site[]; total: number }> {
    const rows = await this.deps.db
      .select()
      .from(sites)
      .where(page.afterId ? gt(sites.id, page.afterId) : undefined)
      .orderBy(asc(sites.id))
      .limit(page.limit);
    const [count] = await this.deps.db.select({ n: sql<number>`count(*)::int` }).from(sites);
    return { sites: rows.map(toSite), total: count?.n ?? 0 };
  }
}

function columns(s: SiteInput): typeof sites.$inferInsert {
  return {
    id: s.id,
    displayName: s.displayName,
    timeZone: s.timeZone,
    lines: s.lines.map((l) => ({ id: l.id, displayName: l.displayName })),
    maintenanceWindows: s.maintenanceWindows.map((w) => ({ cron: w.cron, durationS: w.durationS })),
  };
}

function toSite(r: typeof sites.$inferSelect): Site {
  return {
    id: r.id,
    displayName: r.displayName,
    timeZone: r.timeZone,
    lines: r.lines,
    maintenanceWindows: r.maintenanceWindows,
    createdAtMs: r.createdAt.getTime(),
  };
}
