/**
 * The asking user as SharePoint sees them: Entra object id plus transitive group ids, so search
 * results are trimmed to files shared with the user or one of their groups. Memberships are
 * cached briefly (a removal from a group takes effect within the TTL). When Graph cannot answer,
 * the reader carries no groups: trimming fails closed (fewer passages, never more), and that answer
 * is kept for `failureTtlMs`, so an outage costs the user one wait, not one per question.
 */
import type { Principal } from '../../tenancy/principal';
import type { ReaderResolver } from '../knowledge';
import type { Reader } from '../ports';

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export interface ReaderDeps {
  entraObjectId(workspaceId: string, userId: string): Promise<string | undefined>;
  /** Undefined when Graph access is not configured for this tenant. */
  groupsOf?: (tenantId: string, userObjectId: string) => Promise<string[]>;
  ttlMs?: number;
  /** How long a failed lookup's "no groups" is kept. Default 30 s. */
  failureTtlMs?: number;
  maxEntries?: number;
  onGroupLookupFailed?: (error: unknown) => void;
  now?: () => number;
}

export function createReaderResolver(deps: ReaderDeps): ReaderResolver {
  const ttl = deps.ttlMs ?? 5 * 60_000;
  const failureTtl = deps.failureTtlMs ?? 30_000;
  const maxEntries = deps.maxEntries ?? 10_000;
  const now = deps.now ?? Date.now;
  const cache = new Map<string, { groups: string[]; at: number; failed: boolean }>();

  function remember(key: string, groups: string[], failed: boolean): void {
    if (!cache.has(key) && cache.size >= maxEntries) cache.delete(cache.keys().next().value as string);
    cache.set(key, { groups, at: now(), failed });
  }

  async function groups(tenantId: string, oid: string): Promise<string[]> {
    if (!deps.groupsOf) return [];
    const key = `${tenantId}:${oid}`;
    const hit = cache.get(key);
    if (hit && now() - hit.at < (hit.failed ? failureTtl : ttl)) return hit.groups;
    try {
      const found = (await deps.groupsOf(tenantId, oid)).filter((g) => GUID.test(g)).slice(0, 2000);
      remember(key, found, false);
      return found;
    } catch (error) {
      deps.onGroupLookupFailed?.(error);
      remember(key, [], true);
      return [];
    }
  }

  return {
    async readerFor(principal: Principal): Promise<Reader | undefined> {
      const oid = await deps.entraObjectId(principal.workspaceId, principal.userId);
      if (!oid || !GUID.test(oid)) return undefined;
      return { userId: oid, groupIds: await groups(principal.tenantId, oid) };
    },
  };
}
