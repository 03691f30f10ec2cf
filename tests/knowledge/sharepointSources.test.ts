/**
 * Knowledge sources of a workspace: who may add, list, sync and remove them, and a sync through the
 * delta engine against a local Graph server, with the state persisted in MariaDB.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { isKluisError } from '../../api/errors';
import { createIndexer } from '../../api/knowledge/indexer';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { createPrismaDocumentStore } from '../../api/knowledge/prismaDocumentStore';
import { createGraphDriveClient } from '../../api/knowledge/sharepoint/graphDriveClient';
import { createPrismaSourceStore } from '../../api/knowledge/sharepoint/prismaSourceStore';
import { createKnowledgeSources, type KnowledgeSources } from '../../api/knowledge/sharepoint/sources';
import { createReaderResolver } from '../../api/knowledge/sharepoint/readers';
import type { Principal, Role } from '../../api/tenancy/principal';
import { ORGANIZATION_LINK_PERMISSION, startFakeGraph, type FakeGraph } from '../fakes/graphServer';
import { rejectionOf } from '../support/errors';
import { openTestDatabase } from '../support/database';

const db = openTestDatabase();
const demo = (name: string) => fs.readFileSync(path.join(__dirname, '..', '..', 'demo', 'knowledge', name));
let fake: FakeGraph;
let index: SearchIndex;
let scratch: string;
let sources: KnowledgeSources;
const tenantA = randomUUID();
const tenantB = randomUUID();
const workspaceA = randomUUID();
const workspaceB = randomUUID();
let driveId: string;

const principal = (role: Role, workspaceId = workspaceA, tenantId = tenantA): Principal => ({ workspaceId, tenantId, userId: randomUUID(), roles: [role], authMethod: 'entra-token' });
const errorIdOf = async (p: Promise<unknown>) => {
  const error = await rejectionOf(p);
  return isKluisError(error) ? error.id : String(error);
};

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-sources-'));
  fake = await startFakeGraph({ pageSize: 5, defaultPermissions: [ORGANIZATION_LINK_PERMISSION] });
  ({ driveId } = fake.addDrive());
  fake.addFile(driveId, { name: 'travel-policy.txt', content: demo('travel-policy.txt') });
  fake.addFile(driveId, { name: 'verlofbeleid.md', content: demo('verlofbeleid.md') });
  for (const [id, tenantId] of [[workspaceA, tenantA], [workspaceB, tenantB]] as const) await db.workspace.create({ data: { id, tenantId, name: 'w' } });
  index = await openLanceDbIndex(path.join(scratch, 'index'));
  const documents = createPrismaDocumentStore(db);
  sources = createKnowledgeSources({
    store: createPrismaSourceStore(db),
    tenantOf: async (workspaceId) => (workspaceId === workspaceA ? tenantA : workspaceId === workspaceB ? tenantB : undefined),
    graphFor: () => createGraphDriveClient({ baseUrl: fake.baseUrl, getToken: async () => fake.token, maxDownloadBytes: 1024 * 1024, baseDelayMs: 10 }),
    indexer: createIndexer({ documents, index }),
    documents,
    index,
    audit: createPrismaAuditLog(db),
    maxFileBytes: 1024 * 1024,
  });
});

afterAll(async () => {
  await sources?.settled();
  await index?.close();
  await fake?.close();
  await db.workspace.deleteMany({ where: { id: { in: [workspaceA, workspaceB] } } });
  await db.$disconnect();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('knowledge sources', () => {
  let sourceId: string;

  it('lets a manager add a drive, monthly by default, due at once', async () => {
    const source = await sources.add(principal('manager'), { driveId, displayName: 'Beleid', schedule: 'monthly' });
    sourceId = source.id;
    expect(source.nextSyncAt).toBeInstanceOf(Date);
    expect(await db.auditEvent.count({ where: { workspaceId: workspaceA, kind: 'knowledge.source_added' } })).toBe(1);
  });

  it('refuses a plain user adding a source (403) and a second source on the same drive (409)', async () => {
    expect(await errorIdOf(sources.add(principal('user'), { driveId: 'other', displayName: 'x', schedule: 'monthly' }))).toBe('forbidden');
    expect(await errorIdOf(sources.add(principal('admin'), { driveId, displayName: 'again', schedule: 'weekly' }))).toBe('source_exists');
  });

  it('syncs on demand: the passages become searchable and the progress is stored with the source', async () => {
    expect(await sources.syncNow(principal('admin'), sourceId)).toEqual({ status: 'started', delegated: false });
    await sources.settled();
    const hits = await index.search(workspaceA, 'maximum hotel rate per night London', { limit: 3 });
    expect(hits.map((h) => h.text).join(' ')).toContain('EUR 185 per night');
    const progress = await sources.progress(principal('viewer'), sourceId);
    expect(progress).toMatchObject({ status: 'completed', indexed: 2 });
    const row = await db.knowledgeSource.findFirstOrThrow({ where: { workspaceId: workspaceA, id: sourceId } });
    expect(row.lastSyncAt).toBeInstanceOf(Date);
    expect(row.nextSyncAt!.getTime() - row.lastSyncAt!.getTime()).toBe(30 * 86_400_000);
  });

  it('lists sources with their progress to every member', async () => {
    const list = await sources.list(principal('viewer'));
    expect(list.map((s) => [s.displayName, s.progress?.status])).toEqual([['Beleid', 'completed']]);
  });

  it('answers 404 to another workspace for every action on the source (cross-tenant)', async () => {
    const stranger = principal('admin', workspaceB, tenantB);
    expect(await sources.list(stranger)).toEqual([]);
    for (const attempt of [sources.progress(stranger, sourceId), sources.syncNow(stranger, sourceId), sources.remove(stranger, sourceId)]) {
      expect(await errorIdOf(attempt)).toBe('not_found');
    }
    expect(await index.countChunks(workspaceA)).toBeGreaterThan(0);
  });

  it('runs due sources from the scheduler once and pushes their next run out', async () => {
    await db.knowledgeSource.updateMany({ where: { workspaceId: workspaceA, id: sourceId }, data: { nextSyncAt: new Date(Date.now() - 1000) } });
    const deltaCallsBefore = fake.requests.filter((r) => r.route === 'delta').length;
    expect(await sources.runDue()).toBe(1);
    expect(await sources.runDue()).toBe(0);
    await sources.settled();
    expect(fake.requests.filter((r) => r.route === 'delta').length).toBeGreaterThan(deltaCallsBefore);
  });

  it('removes a source with everything indexed from it', async () => {
    await sources.remove(principal('admin'), sourceId);
    expect(await index.countChunks(workspaceA)).toBe(0);
    expect(await db.document.count({ where: { workspaceId: workspaceA } })).toBe(0);
    expect(await db.knowledgeSource.count({ where: { workspaceId: workspaceA } })).toBe(0);
  });
});

describe('permission trimming of SharePoint passages', () => {
  const userOne = randomUUID();
  const userTwo = randomUUID();
  const shareWith = (oid: string) => [{ id: `p-${oid}`, roles: ['read'], grantedToV2: { user: { id: oid, displayName: 'Colleague' } } }];
  const siteMembersOnly = [{ id: 'sm', roles: ['write'], grantedToV2: { siteGroup: { id: '3', displayName: 'Members', loginName: 'Members' } } }];
  let privateId: string;
  let trimDrive: string;
  let trimSourceId: string;
  const found = async (reader: { userId: string; groupIds: string[] } | undefined, words: string) =>
    (await index.search(workspaceA, words, { limit: 10, reader })).map((h) => h.title).sort();

  beforeAll(async () => {
    ({ driveId: trimDrive } = fake.addDrive());
    privateId = fake.addFile(trimDrive, { name: 'salarisschalen.md', content: '# Salarisschalen\n\nDe salarisschaal zeventien geldt voor projectleiders.\n', permissions: shareWith(userOne) });
    fake.addFile(trimDrive, { name: 'sitenotes.md', content: '# Site notes\n\nDe salarisschaal voor stagiairs staat op de site.\n', permissions: siteMembersOnly });
    fake.addFile(trimDrive, { name: 'openbaar.md', content: '# Openbaar\n\nDe salarisschaal wordt jaarlijks geindexeerd.\n', permissions: [ORGANIZATION_LINK_PERMISSION] });
    trimSourceId = (await sources.add(principal('admin'), { driveId: trimDrive, displayName: 'HR', schedule: 'manual' })).id;
    await sources.syncNow(principal('admin'), trimSourceId);
    await sources.settled();
  });

  it('gives a user the passages of files shared with them, and not those shared with someone else', async () => {
    expect(await found({ userId: userOne, groupIds: [] }, 'salarisschaal')).toEqual(['Openbaar', 'Salarisschalen']);
    expect(await found({ userId: userTwo, groupIds: [] }, 'salarisschaal')).toEqual(['Openbaar']);
  });

  it('returns only organisation-wide files when no reader is known (fail closed)', async () => {
    expect(await found(undefined, 'salarisschaal')).toEqual(['Openbaar']);
  });

  it('keeps a file shared only with unresolved SharePoint site groups from everyone', async () => {
    expect(await found({ userId: userOne, groupIds: [randomUUID()] }, 'stagiairs')).toEqual([]);
  });

  it('stops giving a user the passages of a file they lost access to, after the next sync', async () => {
    fake.setPermissions(trimDrive, privateId, shareWith(userTwo));
    await sources.syncNow(principal('admin'), trimSourceId);
    await sources.settled();
    expect(await found({ userId: userOne, groupIds: [] }, 'salarisschaal zeventien')).toEqual(['Openbaar']);
    expect(await found({ userId: userTwo, groupIds: [] }, 'salarisschaal zeventien')).toEqual(['Openbaar', 'Salarisschalen']);
  });
});

describe('group-shared SharePoint passages', () => {
  it('gives members of a group (resolved through Graph transitiveMemberOf) the passages of files shared with the group', async () => {
    const member = randomUUID();
    const outsider = randomUUID();
    const group = randomUUID();
    fake.setMemberships(member, [group]);
    fake.setMemberships(outsider, []);
    const { driveId: groupDrive } = fake.addDrive();
    fake.addFile(groupDrive, { name: 'projectplan.md', content: '# Projectplan\n\nDe brugrenovatie in Aalst start in maart.\n', permissions: [{ id: 'g', roles: ['read'], grantedToV2: { group: { id: group, displayName: 'Team Brug' } } }] });
    const id = (await sources.add(principal('admin'), { driveId: groupDrive, displayName: 'Projecten', schedule: 'manual' })).id;
    await sources.syncNow(principal('admin'), id);
    await sources.settled();

    const graph = createGraphDriveClient({ baseUrl: fake.baseUrl, getToken: async () => fake.token, maxDownloadBytes: 1024 * 1024, baseDelayMs: 10 });
    const readers = createReaderResolver({ entraObjectId: async (_w, userId) => userId, groupsOf: (_t, oid) => graph.groupsOf(oid) });
    const ask = async (oid: string) => {
      const reader = await readers.readerFor({ ...principal('user'), userId: oid });
      return (await index.search(workspaceA, 'brugrenovatie Aalst', { limit: 5, reader })).map((h) => h.title);
    };
    expect(await ask(member)).toEqual(['Projectplan']);
    expect(await ask(outsider)).toEqual([]);
  });
});
