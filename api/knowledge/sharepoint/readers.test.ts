import type { Principal } from '../../tenancy/principal';
import { createReaderResolver } from './readers';

const OID = '11111111-2222-3333-4444-555555555555';
const GROUP = 'aaaaaaaa-2222-3333-4444-555555555555';
const principal: Principal = { workspaceId: 'w', tenantId: 't', userId: 'u', roles: ['user'], authMethod: 'entra-token' };

describe('reader resolver', () => {
  it('reads the user as Entra object id plus groups, and caches memberships for the TTL', async () => {
    let calls = 0;
    let clock = 0;
    const readers = createReaderResolver({ entraObjectId: async () => OID, groupsOf: async () => (calls++, [GROUP, 'not-a-guid']), ttlMs: 1000, now: () => clock });
    expect(await readers.readerFor(principal)).toEqual({ userId: OID, groupIds: [GROUP] });
    await readers.readerFor(principal);
    expect(calls).toBe(1);
    clock = 1001;
    await readers.readerFor(principal);
    expect(calls).toBe(2);
  });

  it('fails closed when Graph cannot list the groups (no groups, never an error or more access)', async () => {
    const failures: unknown[] = [];
    const readers = createReaderResolver({ entraObjectId: async () => OID, groupsOf: async () => Promise.reject(new Error('graph down')), onGroupLookupFailed: (e) => failures.push(e) });
    expect(await readers.readerFor(principal)).toEqual({ userId: OID, groupIds: [] });
    expect(failures).toHaveLength(1);
  });

  it('keeps a failed lookup for the failure TTL only, then asks Graph again and caches its answer for the full TTL', async () => {
    let clock = 0;
    let down = true;
    let calls = 0;
    const readers = createReaderResolver({
      entraObjectId: async () => OID,
      groupsOf: async () => {
        calls++;
        if (down) throw new Error('graph down');
        return [GROUP];
      },
      ttlMs: 10_000,
      failureTtlMs: 500,
      now: () => clock,
    });
    expect((await readers.readerFor(principal))?.groupIds).toEqual([]);
    clock = 499;
    expect((await readers.readerFor(principal))?.groupIds).toEqual([]);
    expect(calls).toBe(1);
    down = false;
    clock = 500;
    expect((await readers.readerFor(principal))?.groupIds).toEqual([GROUP]);
    clock = 9_000;
    expect((await readers.readerFor(principal))?.groupIds).toEqual([GROUP]);
    expect(calls).toBe(2);
  });

  it('has no reader for people without an Entra object id (credentials login) or a malformed one', async () => {
    expect(await createReaderResolver({ entraObjectId: async () => undefined }).readerFor(principal)).toBeUndefined();
    expect(await createReaderResolver({ entraObjectId: async () => "x' OR 1=1" }).readerFor(principal)).toBeUndefined();
  });

  it('works without Graph access: the user alone, no groups', async () => {
    expect(await createReaderResolver({ entraObjectId: async () => OID }).readerFor(principal)).toEqual({ userId: OID, groupIds: [] });
  });
});
