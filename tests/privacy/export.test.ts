/**
 * Data exports over real HTTP, on the real database and the encrypted-folder blob store: the zip
 * holds everything of its scope and nothing of any other (read back with JSZip and compared with
 * the database and the stored files; canaries of another workspace and another user never appear),
 * secrets stay out, links are bound to their user and expire, tampered links are refused, every
 * download and refusal is audited, and hostile or cross-tenant requests are refused.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import path from 'node:path';
import { createDownloadLinkSigner } from '../../api/files/downloadLinks';
import { createEncryptedFolderStore } from '../../api/files/encryptedFolderStore';
import { createSealedBlobStore } from '../../api/files/sealedBlobStore';
import type { BlobStore } from '../../api/files/ports';
import { deriveKeys } from '../../api/identity/keys';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { readArchive, seedUser, type SeededUser } from './exportSeed';

const masterKey = randomBytes(32);
const db = openTestDatabase();

describe('data export over HTTP', () => {
  const tenantA = randomUUID();
  const tenantB = randomUUID();
  const oid = { adminA: randomUUID(), user1: randomUUID(), user2: randomUUID(), adminB: randomUUID() };
  let issuer: FakeEntraIssuer;
  let kluis: Awaited<ReturnType<typeof startTestKluis>>;
  let blobs: BlobStore;
  let workspaceA: string;
  let workspaceB: string;
  let user1: SeededUser;
  let user2: SeededUser;
  let userB: SeededUser;
  const secretInstructions = `SECRET-INSTRUCTIONS-${randomBytes(6).toString('hex')}`;
  const secretHash = `SECRET-HASH-${randomBytes(6).toString('hex')}`;

  const bearer = (tid: string, who: string, role: string) => issuer.issueAccessToken({ tid, oid: who, iss: `${issuer.authorityHost}/${tid}/v2.0`, aud: issuer.clientId, roles: [role] });
  const as = {
    adminA: () => bearer(tenantA, oid.adminA, 'Kluis.Admin'),
    user1: () => bearer(tenantA, oid.user1, 'Kluis.User'),
    user2: () => bearer(tenantA, oid.user2, 'Kluis.User'),
    adminB: () => bearer(tenantB, oid.adminB, 'Kluis.Admin'),
  };

  async function send(method: string, url: string, token: string | undefined, body?: unknown, headers: Record<string, string> = {}) {
    const response = await fetch(url.startsWith('http') ? url : `${kluis.url}${url}`, {
      method,
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const bytes = Buffer.from(await response.arrayBuffer());
    const json = response.headers.get('content-type')?.startsWith('application/json') ? JSON.parse(bytes.toString()) : undefined;
    return { status: response.status, headers: response.headers, bytes, body: json };
  }

  const userIdOf = async (token: string) => (await send('GET', '/api/me', token)).body.userId as string;

  /** Starts an export, waits for its build and returns its finished status. */
  async function exported(path: '/api/me/export' | '/api/workspace/export', token: () => Promise<string>) {
    const started = await send('POST', path, await token(), {});
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ status: 'queued', progress: { phase: 'queued' } });
    await kluis.modules.exports.settled();
    const status = await send('GET', `${path}/${started.body.id}`, await token());
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ id: started.body.id, status: 'done' });
    return status.body as { id: string; download: { url: string; expiresAt: string }; sizeBytes: number };
  }

  beforeAll(async () => {
    issuer = await startFakeEntraIssuer();
    kluis = await startTestKluis({
      LOCAL_TENANT_ID: randomUUID(),
      ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`,
      ENTRA_CLIENT_ID: issuer.clientId,
      ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`,
      ENTRA_AUTHORITY_HOST: issuer.authorityHost,
      MASTER_KEY: masterKey.toString('hex'),
      DOWNLOAD_LINK_SECONDS: '60',
    });
    // The same encrypted folder (and key file) Kluis writes to, sealed with the same workspace data keys.
    blobs = createSealedBlobStore(createEncryptedFolderStore(path.join(kluis.dataDir, 'blobs')), kluis.modules.dataKeys);
    workspaceA = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantA } })).id;
    workspaceB = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantB } })).id;
    await userIdOf(await as.adminA());
    user1 = await seedUser(db, blobs, workspaceA, { userId: await userIdOf(await as.user1()), label: 'user1', conversations: 2, messagesPerConversation: 3, files: 2, images: 2 });
    user2 = await seedUser(db, blobs, workspaceA, { userId: await userIdOf(await as.user2()), label: 'user2', conversations: 2, files: 1, images: 1 });
    userB = await seedUser(db, blobs, workspaceB, { userId: await userIdOf(await as.adminB()), label: 'B', conversations: 1, files: 1, images: 1 });
    await db.workspaceAssistantSettings.create({ data: { workspaceId: workspaceA, instructions: secretInstructions, maxTurns: 6, maxTurnChars: 2000, maxPassages: 6, maxPassageChars: 1500 } });
    await db.credential.create({
      data: { id: randomUUID(), workspaceId: workspaceA, userId: user1.userId, emailIndex: createHash('sha256').update(randomUUID()).digest('hex'), emailCiphertext: `SECRET-EMAIL-${secretHash}`, passwordHash: secretHash, passwordChangedAt: new Date() },
    });
  }, 60_000);

  afterAll(async () => {
    await kluis?.stop();
    await issuer?.close();
    await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
    await db.$disconnect();
  });

  it("a user's export holds all of their data, their files byte for byte, and nothing of another user or workspace", async () => {
    const status = await exported('/api/me/export', as.user1);
    expect(status.download.url).toMatch(new RegExp(`^${kluis.url}/api/export/download/`));
    const download = await send('GET', status.download.url, await as.user1());
    expect(download.status).toBe(200);
    expect(download.headers.get('content-type')).toBe('application/zip');
    expect(download.headers.get('content-disposition')).toMatch(/^attachment; filename="kluis-export-user-/);
    expect(download.headers.get('cache-control')).toBe('no-store');
    expect(status.sizeBytes).toBe(download.bytes.length);
    const zip = await readArchive(download.bytes);

    const profile = zip.json<{ id: string; memberships: Array<{ role: string }>; credentialsLogin: { totpEnabled: boolean } }>('profile.json');
    expect(profile).toMatchObject({ id: user1.userId, memberships: [{ role: 'user' }], credentialsLogin: { totpEnabled: false } });
    const conversations = zip.json<Array<{ id: string; messages: Array<{ id: string; text: string }> }>>('conversations.json');
    const dbConversations = await db.conversation.findMany({ where: { workspaceId: workspaceA, userId: user1.userId } });
    expect(conversations.map((c) => c.id).sort()).toEqual(dbConversations.map((c) => c.id).sort());
    const dbMessages = await db.message.findMany({ where: { workspaceId: workspaceA, conversationId: { in: user1.conversationIds } } });
    expect(conversations.flatMap((c) => c.messages.map((m) => [m.id, m.text])).sort()).toEqual(dbMessages.map((m) => [m.id, m.text]).sort());
    expect(zip.json<Array<{ userId: string }>>('feedback.json').map((f) => f.userId)).toEqual([user1.userId]);
    expect(zip.json<Array<{ userId: string; inputTokens: string }>>('usage.json')).toEqual([expect.objectContaining({ userId: user1.userId, inputTokens: '1234' })]);
    const uploads = zip.json<Array<{ id: string }>>('uploads.json');
    expect(uploads.map((u) => u.id).sort()).toEqual(user1.uploads.map((u) => u.id).sort());
    for (const upload of user1.uploads) expect(zip.bytes(`files/${upload.id}/${upload.fileName}`).equals((await blobs.get(workspaceA, `uploads/${upload.id}`))!)).toBe(true);
    expect(zip.json<{ files: unknown[] }>('manifest.json').files).toHaveLength(2);
    // Their pictures from /image, byte for byte, and no one else's.
    expect(zip.json<Array<{ id: string; userId: string }>>('images.json').map((i) => [i.id, i.userId]).sort()).toEqual(user1.images.map((i) => [i.id, user1.userId]).sort());
    for (const image of user1.images) expect(zip.bytes(`images/${image.id}.png`).equals(image.bytes)).toBe(true);
    expect(zip.json<{ images: Array<{ imageId: string; path: string }> }>('manifest.json').images.map((i) => i.path).sort()).toEqual(user1.images.map((i) => `images/${i.id}.png`).sort());
    for (const image of [...user2.images, ...userB.images]) expect(zip.names).not.toContain(`images/${image.id}.png`);
    // Only user-scope entries: nothing of the workspace's settings, audit log or members.
    expect(zip.names.filter((n) => !n.startsWith('files/') && !n.startsWith('images/'))).toEqual(['conversations.json', 'feedback.json', 'images.json', 'manifest.json', 'profile.json', 'uploads.json', 'usage.json']);

    expect(zip.everything).toContain(user1.canary);
    for (const foreign of [user2.canary, user2.userId, userB.canary, userB.userId, workspaceB, secretHash, secretInstructions]) expect(zip.everything).not.toContain(foreign);
  });

  it("a workspace export holds every record and file of the workspace, no secrets, and nothing of another workspace", async () => {
    const status = await exported('/api/workspace/export', as.adminA);
    const download = await send('GET', status.download.url, await as.adminA());
    expect(download.status).toBe(200);
    const zip = await readArchive(download.bytes);

    expect(zip.json('workspace.json')).toMatchObject({ id: workspaceA, tenantId: tenantA, name: 'Contoso' });
    const members = zip.json<Array<{ id: string }>>('members.json');
    expect(members.map((m) => m.id).sort()).toEqual((await db.user.findMany({ where: { workspaceId: workspaceA } })).map((u) => u.id).sort());
    const conversations = zip.json<Array<{ id: string; messages: Array<{ id: string }> }>>('conversations.json');
    expect(conversations.map((c) => c.id).sort()).toEqual((await db.conversation.findMany({ where: { workspaceId: workspaceA } })).map((c) => c.id).sort());
    expect(conversations.flatMap((c) => c.messages.map((m) => m.id)).sort()).toEqual((await db.message.findMany({ where: { workspaceId: workspaceA } })).map((m) => m.id).sort());
    expect(zip.json<unknown[]>('feedback.json')).toHaveLength(await db.messageFeedback.count({ where: { workspaceId: workspaceA } }));
    expect(zip.json<unknown[]>('usage.json')).toHaveLength(await db.usageDaily.count({ where: { workspaceId: workspaceA } }));
    const uploads = await db.upload.findMany({ where: { workspaceId: workspaceA } });
    expect(zip.json<Array<{ id: string }>>('uploads.json').map((u) => u.id).sort()).toEqual(uploads.map((u) => u.id).sort());
    for (const upload of uploads) expect(zip.bytes(`files/${upload.id}/${upload.fileName}`).equals((await blobs.get(workspaceA, `uploads/${upload.id}`))!)).toBe(true);
    // Every picture of the workspace, none of another.
    expect(zip.json<Array<{ id: string }>>('images.json').map((i) => i.id).sort()).toEqual([...user1.images, ...user2.images].map((i) => i.id).sort());
    for (const image of [...user1.images, ...user2.images]) expect(zip.bytes(`images/${image.id}.png`).equals(image.bytes)).toBe(true);
    expect(zip.names).not.toContain(`images/${userB.images[0]!.id}.png`);
    expect(zip.json('settings.json')).toMatchObject({ assistant: { maxTurns: 6, instructions: { set: true, chars: secretInstructions.length } }, retentionPolicy: null });
    const auditIds = zip.json<Array<{ id: string; kind: string; detail: { jobId?: string } }>>('audit-events.json');
    expect(auditIds.some((e) => e.kind === 'export.requested' && e.detail?.jobId === status.id)).toBe(true);
    expect(await db.auditEvent.count({ where: { workspaceId: workspaceA, id: { in: auditIds.map((e) => e.id) } } })).toBe(auditIds.length);
    for (const name of ['sources.json', 'documents.json']) expect(zip.json(name)).toEqual([]);

    for (const own of [user1.canary, user2.canary]) expect(zip.everything).toContain(own);
    for (const foreign of [userB.canary, userB.userId, workspaceB, tenantB, secretHash, secretInstructions]) expect(zip.everything).not.toContain(foreign);
  });

  it('audits every download and refuses links that are tampered, expired, someone else\'s or of another workspace', async () => {
    const status = await exported('/api/me/export', as.user1);
    const url = status.download.url;
    const token = url.split('/').pop()!;
    const downloads = () => db.auditEvent.count({ where: { workspaceId: workspaceA, kind: 'export.downloaded', actorUserId: user1.userId } });
    const refusals = () => db.auditEvent.count({ where: { workspaceId: workspaceA, kind: 'export.download_refused' } });
    const before = await downloads();
    expect((await send('GET', url, await as.user1())).status).toBe(200);
    expect(await downloads()).toBe(before + 1);

    const refusedBefore = await refusals();
    const flipped = `${token.slice(0, -2)}${token.endsWith('AA') ? 'BB' : 'AA'}`;
    expect((await send('GET', `/api/export/download/${flipped}`, await as.user1())).status).toBe(403);
    expect((await send('GET', `/api/export/download/${'a'.repeat(2000)}`, await as.user1())).status).toBe(403);
    // The same user's link, in another user's hands.
    expect((await send('GET', url, await as.user2())).status).toBe(403);
    // Signed under the file-download key: a file link never opens an export.
    const fileLink = createDownloadLinkSigner(deriveKeys(masterKey).downloadLinkSigning, 60).sign({ workspaceId: workspaceA, fileId: status.id, userId: user1.userId });
    expect((await send('GET', `/api/export/download/${fileLink.token}`, await as.user1())).status).toBe(403);
    // Correctly signed, but expired a minute ago.
    const signer = createDownloadLinkSigner(deriveKeys(masterKey).exportLinkSigning, 60);
    const expired = signer.sign({ workspaceId: workspaceA, fileId: status.id, userId: user1.userId }, new Date(Date.now() - 2 * 60_000));
    expect((await send('GET', `/api/export/download/${expired.token}`, await as.user1())).status).toBe(410);
    expect(await refusals()).toBe(refusedBefore + 5);
    // Workspace B's admin with A's link, and with a validly signed link naming B (cross-tenant).
    expect((await send('GET', url, await as.adminB())).status).toBe(403);
    const crossTenant = signer.sign({ workspaceId: workspaceB, fileId: status.id, userId: userB.userId });
    expect((await send('GET', `/api/export/download/${crossTenant.token}`, await as.adminB())).status).toBe(404);
    expect(await db.auditEvent.count({ where: { workspaceId: workspaceB, kind: 'export.download_refused' } })).toBe(2);
    expect((await send('GET', url, undefined)).status).toBe(401);
    expect(await downloads()).toBe(before + 1);
  });

  it("refuses workspace exports to non-admins, another workspace's or user's job ids (404), and malformed input", async () => {
    expect((await send('POST', '/api/workspace/export', await as.user1(), {})).status).toBe(403);
    expect((await send('POST', '/api/me/export', undefined, {})).status).toBe(401);
    expect((await send('POST', '/api/me/export', await as.user1(), { scope: 'workspace' })).status).toBe(400);
    expect((await send('POST', '/api/me/export', await as.user1(), '[1,2', { 'content-type': 'application/json' })).status).toBe(400);
    expect((await send('POST', '/api/me/export', await as.user1(), 'x'.repeat(2_000_000), { 'content-type': 'application/json' })).status).toBe(413);
    expect((await send('GET', '/api/me/export/not-a-uuid', await as.user1())).status).toBe(404);
    expect((await send('GET', `/api/me/export/${randomUUID()}`, await as.user1())).status).toBe(404);

    const ofA = await exported('/api/workspace/export', as.adminA);
    expect((await send('GET', `/api/workspace/export/${ofA.id}`, await as.adminB())).status).toBe(404);
    expect((await send('GET', `/api/me/export/${ofA.id}`, await as.adminA())).status).toBe(404);
    expect((await send('GET', `/api/workspace/export/${ofA.id}`, await as.user1())).status).toBe(403);
    const ofUser1 = await exported('/api/me/export', as.user1);
    expect((await send('GET', `/api/me/export/${ofUser1.id}`, await as.user2())).status).toBe(404);
    expect((await send('GET', `/api/me/export/${ofUser1.id}`, await as.adminB())).status).toBe(404);
    expect((await send('GET', `/api/workspace/export/${ofUser1.id}`, await as.adminA())).status).toBe(404);
  });

  it('runs one export per user at a time: a second request joins the one under way', async () => {
    // An export of user 2 that a live worker is building right now.
    const running = randomUUID();
    await db.job.create({ data: { id: running, workspaceId: workspaceA, kind: 'export', status: 'running', lockedBy: 'another-replica', lockedAt: new Date(), payload: { scope: { kind: 'user', workspaceId: workspaceA, userId: user2.userId }, requestedByUserId: user2.userId }, progress: { phase: 'files', filesDone: 1, filesTotal: 3 } } });
    const joined = await send('POST', '/api/me/export', await as.user2(), {});
    expect(joined.status).toBe(202);
    expect(joined.body).toMatchObject({ id: running, status: 'running', progress: { filesDone: 1, filesTotal: 3 } });
    expect(joined.body.download).toBeUndefined();
    // Another user's export is not held up by it.
    const other = await send('POST', '/api/me/export', await as.user1(), {});
    expect(other.body.id).not.toBe(running);
    await kluis.modules.exports.settled();
    await db.job.deleteMany({ where: { workspaceId: workspaceA, id: running } });
  });
});
