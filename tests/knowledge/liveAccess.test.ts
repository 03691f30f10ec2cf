/**
 * SharePoint decides at question time: the assistant module over the real LanceDB index, sources
 * synced app-only into MariaDB from the local Graph server, users resolved as the Entra door does,
 * and the asker's own delegated access (a Graph $batch with their token) confirming the final hits.
 *
 * - A file shared only through a SharePoint site group (the library's inherited Members) is
 *   answered for a member SharePoint lets open it, and not for anyone it refuses.
 * - A user who lost access since the last sync stops getting the file's passages at once.
 * - Delegated access of a user never opens another workspace's files.
 * - A sync started by a user with their delegated token indexes what that user can see.
 */
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createAssistant, type Assistant } from '../../api/assistant/assistant';
import { createPrismaConversationStore } from '../../api/assistant/prismaConversationStore';
import { createExtractiveProvider } from '../../api/assistant/providers/extractiveProvider';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createIndexer } from '../../api/knowledge/indexer';
import { createKnowledge } from '../../api/knowledge/knowledge';
import { openLanceDbIndex } from '../../api/knowledge/lancedbIndex';
import type { SearchIndex } from '../../api/knowledge/ports';
import { createPrismaDocumentStore } from '../../api/knowledge/prismaDocumentStore';
import { createGraphDriveClient } from '../../api/knowledge/sharepoint/graphDriveClient';
import { createGraphOpenCheck } from '../../api/knowledge/sharepoint/graphOpenCheck';
import { createPrismaSourceStore } from '../../api/knowledge/sharepoint/prismaSourceStore';
import { createReaderResolver } from '../../api/knowledge/sharepoint/readers';
import { createKnowledgeSources, type KnowledgeSources } from '../../api/knowledge/sharepoint/sources';
import { createPrincipals, type Principals } from '../../api/tenancy/principals';
import { createPrismaWorkspaceDirectory } from '../../api/tenancy/prismaWorkspaceDirectory';
import type { Principal } from '../../api/tenancy/principal';
import { ORGANIZATION_LINK_PERMISSION, SITE_MEMBERS_PERMISSION, startFakeGraph, type FakeGraph } from '../fakes/graphServer';
import { openTestDatabase } from '../support/database';

const db = openTestDatabase();
const tenantA = randomUUID();
const tenantB = randomUUID();
let scratch: string;
let fake: FakeGraph;
let index: SearchIndex;
let sources: KnowledgeSources;
let assistant: Assistant;
let principals: Principals;
let workspaceA: string;
let driveId: string;

const MEMBERS_ONLY = '# Werkplekreglement\n\nDe sleutelkluis van het archief opent met code via de receptie.\n';
const shareWith = (...oids: string[]) => oids.map((oid) => ({ id: `p-${oid}`, roles: ['read'], grantedToV2: { user: { id: oid, displayName: 'Colleague' } } }));

/** A user as the Entra door makes them: a Principal of their tenant's workspace. */
const signIn = (tenantId: string, oid: string): Promise<Principal> => principals.resolve({ tenantId, entraObjectId: oid, displayName: 'Colleague', authMethod: 'entra-token', appRoles: ['Kluis.Admin'] });
/** The asker's own delegated access: the same adapter the channels get, with that user's Graph token. */
const delegatedFor = (oid: string) => createGraphOpenCheck({ baseUrl: fake.baseUrl, getToken: async () => fake.userToken(oid), sleep: async () => undefined });
const ask = async (who: Principal, question: string, oid?: string) => {
  const answer = await assistant.answer(who, question, { channel: 'test', conversationExternalId: randomUUID(), access: oid ? delegatedFor(oid) : undefined });
  return answer.citations.map((c) => c.title);
};
const sync = async (_workspaceId: string, sourceId: string, asUser?: string, by?: Principal) => {
  const admin = by ?? (await signIn(tenantA, randomUUID()));
  await sources.syncNow(admin, sourceId, asUser ? { asUser: createGraphDriveClient({ baseUrl: fake.baseUrl, getToken: async () => fake.userToken(asUser), maxDownloadBytes: 1024 * 1024, baseDelayMs: 5, maxRetries: 1 }) } : {});
  await sources.settled();
};

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-live-access-'));
  fake = await startFakeGraph({ pageSize: 4 });
  ({ driveId } = fake.addDrive());
  index = await openLanceDbIndex(path.join(scratch, 'index'));
  const directory = createPrismaWorkspaceDirectory(db);
  const audit = createPrismaAuditLog(db);
  principals = createPrincipals({ directory, audit });
  workspaceA = (await directory.onboard(tenantA, 'Contoso')).id;
  await directory.onboard(tenantB, 'Fabrikam');
  const documents = createPrismaDocumentStore(db);
  const appGraph = () => createGraphDriveClient({ baseUrl: fake.baseUrl, getToken: async () => fake.token, maxDownloadBytes: 1024 * 1024, baseDelayMs: 5 });
  sources = createKnowledgeSources({
    store: createPrismaSourceStore(db),
    tenantOf: async (workspaceId) => (await directory.findById(workspaceId))?.tenantId,
    graphFor: appGraph,
    indexer: createIndexer({ documents, index }),
    documents,
    index,
    audit,
    maxFileBytes: 1024 * 1024,
  });
  const readers = createReaderResolver({ entraObjectId: (workspaceId, userId) => directory.entraObjectId(workspaceId, userId), groupsOf: (_tenantId, oid) => appGraph().groupsOf(oid) });
  const knowledge = createKnowledge({ index, readers }, { minCoverage: 0.5 });
  assistant = createAssistant({ knowledge, provider: createExtractiveProvider(), conversations: createPrismaConversationStore(db), audit, topK: 4 });
}, 60000);

afterAll(async () => {
  await sources?.settled();
  await index?.close();
  await fake?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('files shared only through a SharePoint site group', () => {
  const member = randomUUID();
  const visitor = randomUUID();
  let sourceId: string;

  beforeAll(async () => {
    // The library inherits its site's permissions: only the Members site group (id 3) may read.
    fake.addFile(driveId, { name: 'werkplekreglement.md', content: MEMBERS_ONLY, permissions: [SITE_MEMBERS_PERMISSION] });
    fake.addFile(driveId, { name: 'kantine.md', content: '# Kantine\n\nDe kantine opent om acht uur.\n', permissions: [ORGANIZATION_LINK_PERMISSION] });
    fake.setSiteGroupMembers('3', [member]);
    for (const oid of [member, visitor]) fake.setMemberships(oid, []);
    sourceId = (await sources.add(await signIn(tenantA, randomUUID()), { driveId, displayName: 'Site', schedule: 'manual' })).id;
    await sync(workspaceA, sourceId);
  });

  it('answers a member of the site group whom SharePoint lets open the file', async () => {
    expect(await ask(await signIn(tenantA, member), 'code sleutelkluis archief', member)).toEqual(['Werkplekreglement']);
  });

  it('does not answer a user SharePoint refuses, though the file matched their question', async () => {
    const before = fake.requests.filter((r) => r.route === 'batch').length;
    expect(await ask(await signIn(tenantA, visitor), 'code sleutelkluis archief', visitor)).toEqual([]);
    // SharePoint was asked, as the visitor, and said no.
    const batches = fake.requests.filter((r) => r.route === 'batch').slice(before);
    expect(batches.map((b) => [b.asUser, b.status])).toEqual([[visitor, 200]]);
  });

  it('never uses the file for a question asked without delegated access (a cookie login, a bot user not signed in)', async () => {
    expect(await ask(await signIn(tenantA, member), 'code sleutelkluis archief')).toEqual([]);
  });

  it('keeps answering from workspace-wide files while SharePoint cannot be reached, but not from site-group files', async () => {
    // Each question's batch fails, and so does its one retry.
    const outage = { kind: 'throttle', status: 503 } as const;
    fake.failNext('batch', outage, outage, outage, outage);
    expect(await ask(await signIn(tenantA, member), 'code sleutelkluis archief', member)).toEqual([]);
    expect(await ask(await signIn(tenantA, member), 'wanneer opent de kantine', member)).toEqual(['Kantine']);
  });

  it("never opens workspace A's file to a user of workspace B, even one SharePoint would let open it", async () => {
    const before = fake.requests.filter((r) => r.route === 'batch').length;
    expect(await ask(await signIn(tenantB, member), 'code sleutelkluis archief', member)).toEqual([]);
    // Nothing of workspace A was even a candidate, so SharePoint was not asked about it.
    expect(fake.requests.filter((r) => r.route === 'batch').slice(before)).toEqual([]);
  });
});

describe('a user who lost access since the last sync', () => {
  it('stops getting the passages at once, without a re-sync', async () => {
    const [carol, dave] = [randomUUID(), randomUUID()];
    for (const oid of [carol, dave]) fake.setMemberships(oid, []);
    const { driveId: hrDrive } = fake.addDrive();
    const fileId = fake.addFile(hrDrive, { name: 'salarisschalen.md', content: '# Salarisschalen\n\nSalarisschaal zeventien geldt voor projectleiders.\n', permissions: shareWith(carol, dave) });
    const sourceId = (await sources.add(await signIn(tenantA, randomUUID()), { driveId: hrDrive, displayName: 'HR', schedule: 'manual' })).id;
    await sync(workspaceA, sourceId);
    const asCarol = await signIn(tenantA, carol);
    expect(await ask(asCarol, 'salarisschaal zeventien projectleiders', carol)).toEqual(['Salarisschalen']);

    // Carol's access is removed in SharePoint; Kluis has not synced since.
    fake.setPermissions(hrDrive, fileId, shareWith(dave));

    expect(await ask(asCarol, 'salarisschaal zeventien projectleiders', carol)).toEqual([]);
    expect(await ask(await signIn(tenantA, dave), 'salarisschaal zeventien projectleiders', dave)).toEqual(['Salarisschalen']);
    // Without delegated access only the stored acl speaks, until the next sync.
    expect(await ask(asCarol, 'salarisschaal zeventien projectleiders')).toEqual(['Salarisschalen']);
    await sync(workspaceA, sourceId);
    expect(await ask(asCarol, 'salarisschaal zeventien projectleiders')).toEqual([]);
  });
});

describe('a sync started by a user with their delegated token', () => {
  it('indexes what that user can see, and a full enumeration by them prunes what they cannot', async () => {
    const [erin, frank] = [randomUUID(), randomUUID()];
    for (const oid of [erin, frank]) fake.setMemberships(oid, []);
    const { driveId: projectDrive } = fake.addDrive();
    fake.addFile(projectDrive, { name: 'brug.md', content: '# Brug\n\nDe brugrenovatie in Aalst start in maart.\n', permissions: shareWith(erin, frank) });
    fake.addFile(projectDrive, { name: 'tunnel.md', content: '# Tunnel\n\nDe tunnelrenovatie in Aalst start in mei.\n', permissions: shareWith(frank) });
    const admin = await signIn(tenantA, randomUUID());
    const sourceId = (await sources.add(admin, { driveId: projectDrive, displayName: 'Projecten', schedule: 'manual' })).id;
    const asFrank = await signIn(tenantA, frank);

    // First run by Erin (a full enumeration): only what Erin can see.
    await sync(workspaceA, sourceId, erin, admin);
    const delta = fake.requests.filter((r) => r.route === 'delta' && r.url.includes(encodeURIComponent(projectDrive)));
    expect(delta.length).toBeGreaterThan(0);
    expect(delta.every((r) => r.asUser === erin)).toBe(true);
    expect(await ask(asFrank, 'renovatie Aalst', frank)).toEqual(['Brug']);

    // An app-only run sees everything; a later full enumeration by Erin (Graph answered 410) prunes what she cannot see.
    await sync(workspaceA, sourceId);
    expect((await ask(asFrank, 'renovatie Aalst', frank)).sort()).toEqual(['Brug', 'Tunnel']);
    fake.expireDeltaTokens(projectDrive);
    await sync(workspaceA, sourceId, erin, admin);
    expect(await ask(asFrank, 'renovatie Aalst', frank)).toEqual(['Brug']);
    const audit = await db.auditEvent.findFirst({ where: { workspaceId: workspaceA, kind: 'knowledge.sync_requested', actorUserId: admin.userId }, orderBy: { createdAt: 'desc' } });
    expect(audit?.detail).toEqual({ sourceId, delegated: true });
  });

  it('stops as interrupted when the user token runs out mid-way, and the next (app-only) run resumes and completes', async () => {
    const grace = randomUUID();
    fake.setMemberships(grace, []);
    const { driveId: bigDrive } = fake.addDrive();
    for (let i = 0; i < 10; i++) fake.addFile(bigDrive, { name: `notulen-${i}.md`, content: `# Notulen ${i}\n\nVergadering nummer ${i} over de begroting.\n`, permissions: shareWith(grace) });
    const admin = await signIn(tenantA, randomUUID());
    const sourceId = (await sources.add(admin, { driveId: bigDrive, displayName: 'Notulen', schedule: 'manual' })).id;
    // The user's token expires once the second delta page has been served (pages hold 4 items).
    const token = fake.userToken(grace);
    const userGraph = createGraphDriveClient({
      baseUrl: fake.baseUrl,
      maxDownloadBytes: 1024 * 1024,
      baseDelayMs: 5,
      maxRetries: 0,
      getToken: async () => {
        if (fake.requests.filter((r) => r.route === 'delta' && r.asUser === grace).length >= 2) fake.revokeUserTokens(grace);
        return token;
      },
    });
    await sources.syncNow(admin, sourceId, { asUser: userGraph });
    await sources.settled();
    const interrupted = await sources.progress(admin, sourceId);
    expect(interrupted).toMatchObject({ status: 'interrupted', failed: [] });
    expect(interrupted?.error).toContain('401');

    await sources.syncNow(admin, sourceId);
    await sources.settled();
    const done = await sources.progress(admin, sourceId);
    expect(done?.status).toBe('completed');
    expect(await db.document.count({ where: { workspaceId: workspaceA, sourceRef: { startsWith: `${bigDrive}/` } } })).toBe(10);
  });
});
