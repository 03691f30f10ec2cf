/**
 * Erasure over real HTTP against a running Kluis: admins only for the workspace, the exact name as
 * confirmation, own jobs only, malformed and cross-tenant requests refused with nothing deleted,
 * and an unfinished job finished by the next start of Kluis.
 */
import { randomUUID } from 'node:crypto';
import { createEraser } from '../../api/privacy/erasure';
import { createPrismaErasureJobStore } from '../../api/privacy/prismaErasureJobs';
import { createPrismaErasureRows } from '../../api/privacy/prismaErasureRows';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let env: Record<string, string>;
const people = { adminA: randomUUID(), userA: randomUUID(), adminB: randomUUID(), userB: randomUUID() };

const token = (tid: string, oid: string, role: string) => issuer.issueAccessToken({ tid, oid, iss: `${issuer.authorityHost}/${tid}/v2.0`, aud: issuer.clientId, roles: [role] });
const adminA = () => token(tenantA, people.adminA, 'Kluis.Admin');
const userA = () => token(tenantA, people.userA, 'Kluis.User');
const adminB = () => token(tenantB, people.adminB, 'Kluis.Admin');
const userB = () => token(tenantB, people.userB, 'Kluis.User');

async function call(method: string, path: string, bearer: string | undefined, payload?: unknown, base = kluis.url) {
  const body = payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload);
  const response = await fetch(`${base}${path}`, { method, headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function principalOf(bearer: string) {
  const me = await call('GET', '/api/me', bearer);
  expect(me.status).toBe(200);
  return me.body as { workspaceId: string; userId: string };
}

/** A conversation with two messages for a user, written as the assistant would. */
async function conversationOf(p: { workspaceId: string; userId: string }): Promise<string> {
  const id = randomUUID();
  await db.conversation.create({ data: { id, workspaceId: p.workspaceId, userId: p.userId, channel: 'tab', externalId: randomUUID() } });
  await db.message.createMany({ data: [
    { id: randomUUID(), workspaceId: p.workspaceId, conversationId: id, authorUserId: p.userId, role: 'user', text: 'question' },
    { id: randomUUID(), workspaceId: p.workspaceId, conversationId: id, role: 'assistant', text: 'answer' },
  ] });
  return id;
}

async function untilFinished(path: string, bearer: () => Promise<string>, base?: string) {
  for (let i = 0; i < 200; i++) {
    const r = await call('GET', path, await bearer(), undefined, base);
    if (r.status !== 200 || r.body.status === 'done' || r.body.status === 'failed') return r;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${path} did not finish`);
}

let a: { workspaceId: string; userId: string };
let b: { workspaceId: string; userId: string };

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  env = { LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso Belgium,${tenantB}=Fabrikam`, ENTRA_CLIENT_ID: issuer.clientId, ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`, ENTRA_AUTHORITY_HOST: issuer.authorityHost };
  kluis = await startTestKluis(env);
  a = await principalOf(await adminA());
  b = await principalOf(await adminB());
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  const ids = (await db.workspace.findMany({ where: { tenantId: { in: [tenantA, tenantB] } } })).map((w) => w.id);
  await db.erasureJob.deleteMany({ where: { workspaceId: { in: ids } } });
  await db.workspace.deleteMany({ where: { id: { in: ids } } });
  await db.$disconnect();
});

describe('POST /api/me/erasure', () => {
  it('erases the caller’s own conversations in the background and lets only them follow the job', async () => {
    const me = await principalOf(await userA());
    const mine = await conversationOf(me);
    const admins = await conversationOf(a);

    const started = await call('POST', '/api/me/erasure', await userA(), {});
    expect(started.status).toBe(202);
    expect(started.body).toMatchObject({ scope: { kind: 'user', userId: me.userId, deleteAccount: false }, status: expect.stringMatching(/queued|running|done/) });
    const finished = await untilFinished(`/api/me/erasure/${started.body.jobId}`, userA);
    expect(finished.body).toMatchObject({ status: 'done', residue: [] });

    expect(await db.conversation.count({ where: { workspaceId: me.workspaceId, id: mine } })).toBe(0);
    expect(await db.conversation.count({ where: { workspaceId: me.workspaceId, id: admins } })).toBe(1);
    // Another user of the workspace, an admin, and another tenant: all "not found".
    expect((await call('GET', `/api/me/erasure/${started.body.jobId}`, await adminA())).status).toBe(404);
    expect((await call('GET', `/api/me/erasure/${started.body.jobId}`, await userB())).status).toBe(404);
    expect((await call('GET', `/api/workspace/erasure/${started.body.jobId}`, await adminB())).status).toBe(404);
    // The workspace's admin may follow it.
    expect((await call('GET', `/api/workspace/erasure/${started.body.jobId}`, await adminA())).body.status).toBe('done');
  });

  it('deletes the account too, and the status token still shows the requester the end; no one else reads the job with it', async () => {
    const oid = randomUUID();
    const me = () => token(tenantA, oid, 'Kluis.User');
    const before = await principalOf(await me());
    await conversationOf(before);
    const started = await call('POST', '/api/me/erasure', await me(), { deleteAccount: true });
    expect(started.status).toBe(202);
    const statusToken = String(started.body.statusToken);
    expect(statusToken).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const path = `/api/me/erasure/${started.body.jobId}`;
    await kluis.modules.erasureRunner.settled();
    expect(await db.user.count({ where: { workspaceId: before.workspaceId, id: before.userId } })).toBe(0);

    // The same person is now a fresh, empty account; with the token they see the job done.
    const withToken = (bearer: string, value = statusToken) => fetch(`${kluis.url}${path}`, { headers: { authorization: `Bearer ${bearer}`, 'x-kluis-erasure-token': value } });
    const finished = await withToken(await me());
    expect(finished.status).toBe(200);
    expect(await finished.json()).toMatchObject({ jobId: started.body.jobId, status: 'done', residue: [], scope: { kind: 'user', userId: before.userId, deleteAccount: true } });
    expect((await principalOf(await me())).userId).not.toBe(before.userId);
    // Without the token, the fresh account has no such job; the row keeps only the token's hash.
    expect((await call('GET', path, await me())).status).toBe(404);
    expect((await db.erasureJob.findUniqueOrThrow({ where: { id: started.body.jobId } })).statusTokenHash).toMatch(/^[0-9a-f]{64}$/);
    // Another tenant with the right token (cross-tenant), and anyone with a wrong or oversized one: 404.
    expect((await withToken(await userB())).status).toBe(404);
    expect((await withToken(await adminB())).status).toBe(404);
    expect((await withToken(await userA(), `${statusToken.slice(0, 42)}${statusToken.endsWith('A') ? 'B' : 'A'}`)).status).toBe(404);
    expect((await withToken(await userA(), statusToken.repeat(10))).status).toBe(404);
    // A token opens its own job only.
    const other = await call('POST', '/api/me/erasure', await userA(), {});
    await kluis.modules.erasureRunner.settled();
    expect((await fetch(`${kluis.url}/api/me/erasure/${other.body.jobId}`, { headers: { authorization: `Bearer ${await me()}`, 'x-kluis-erasure-token': statusToken } })).status).toBe(404);
    expect(other.body.statusToken).not.toBe(statusToken);
  });

  it.each([
    ['deleteAccount as a string', { deleteAccount: 'yes' }],
    ['an unknown field', { deleteAccount: false, userId: randomUUID() }],
    ['an array body', [true]],
  ])('refuses %s with 400 and starts nothing', async (_name, body) => {
    const before = await db.erasureJob.count({ where: { workspaceId: a.workspaceId } });
    const r = await call('POST', '/api/me/erasure', await userA(), body);
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('request_malformed');
    expect(await db.erasureJob.count({ where: { workspaceId: a.workspaceId } })).toBe(before);
  });

  it('refuses a caller without credentials (401) and treats a malformed job id as not found', async () => {
    expect((await call('POST', '/api/me/erasure', undefined, {})).status).toBe(401);
    expect((await call('GET', '/api/me/erasure/not-a-uuid', await userA())).status).toBe(404);
    expect((await call('GET', `/api/me/erasure/${randomUUID()}`, await userA())).status).toBe(404);
  });
});

describe('POST /api/workspace/erasure', () => {
  it('refuses a non-admin with 403 whatever the body, and deletes nothing', async () => {
    const conversation = await conversationOf(a);
    for (const body of [{ confirmName: 'Contoso Belgium' }, {}, 'garbage']) {
      const r = await call('POST', '/api/workspace/erasure', await userA(), body);
      expect([403, 400]).toContain(r.status);
      if (typeof body === 'object') expect(r.status).toBe(403);
    }
    expect(await db.conversation.count({ where: { workspaceId: a.workspaceId, id: conversation } })).toBe(1);
  });

  it.each([
    ['no name', {}],
    ['a number', { confirmName: 42 }],
    ['an empty name', { confirmName: '' }],
    ['an oversized name', { confirmName: 'x'.repeat(201) }],
    ['an extra field (another workspace id)', { confirmName: 'Contoso Belgium', workspaceId: randomUUID() }],
  ])('refuses %s with 400', async (_name, body) => {
    const r = await call('POST', '/api/workspace/erasure', await adminA(), body);
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('request_malformed');
  });

  it.each([['another case', 'contoso belgium'], ['a trailing space', 'Contoso Belgium '], ['another workspace’s name', 'Fabrikam']])('refuses a wrong typed name (%s) with 422 and deletes nothing', async (_name, typed) => {
    const conversation = await conversationOf(a);
    const jobs = await db.erasureJob.count({ where: { workspaceId: a.workspaceId } });
    const r = await call('POST', '/api/workspace/erasure', await adminA(), { confirmName: typed });
    expect(r.status).toBe(422);
    expect(r.body.error.id).toBe('erasure_confirmation_mismatch');
    expect(await db.conversation.count({ where: { workspaceId: a.workspaceId, id: conversation } })).toBe(1);
    expect(await db.erasureJob.count({ where: { workspaceId: a.workspaceId } })).toBe(jobs);
  });

  it('erases the admin’s own workspace only when its exact name is typed; the other tenant keeps everything', async () => {
    const keptB = await conversationOf(b);
    const bRows = await db.message.count({ where: { workspaceId: b.workspaceId } });
    await conversationOf(a);

    const r = await call('POST', '/api/workspace/erasure', await adminA(), { confirmName: 'Contoso Belgium' });
    expect(r.status).toBe(202);
    expect(r.body.scope).toEqual({ kind: 'workspace', workspaceId: a.workspaceId });
    // Another tenant's admin cannot see it.
    expect((await call('GET', `/api/workspace/erasure/${r.body.jobId}`, await adminB())).status).toBe(404);
    // The admin follows it (Kluis makes the first caller of an emptied workspace its admin again).
    const finished = await untilFinished(`/api/workspace/erasure/${r.body.jobId}`, adminA);
    expect(finished.body).toMatchObject({ status: 'done', residue: [] });

    expect(await db.conversation.count({ where: { workspaceId: a.workspaceId } })).toBe(0);
    expect(await db.message.count({ where: { workspaceId: a.workspaceId } })).toBe(0);
    expect(await db.conversation.count({ where: { workspaceId: b.workspaceId, id: keptB } })).toBe(1);
    expect(await db.message.count({ where: { workspaceId: b.workspaceId } })).toBe(bRows);
    // The emptied workspace stays in use: it has a new data key (the old one was destroyed), so
    // new files can be sealed again.
    expect(await kluis.modules.dataKeys.exists(a.workspaceId)).toBe(true);
    const sealed = await kluis.modules.dataKeys.seal(a.workspaceId, Buffer.from('after the erasure'), 'blob:probe');
    expect((await kluis.modules.dataKeys.open(a.workspaceId, sealed, 'blob:probe')).toString()).toBe('after the erasure');
    a = await principalOf(await adminA());
  });
});

describe('start-up', () => {
  it('finishes an erasure job a stopped Kluis left unfinished', async () => {
    const ub = await principalOf(await userB());
    await db.usageDaily.create({ data: { id: randomUUID(), workspaceId: ub.workspaceId, userId: ub.userId, day: new Date('2026-12-01'), provider: 'openai', model: 'gpt-4o-mini', calls: 1 } });
    const crashing = createEraser({
      jobs: createPrismaErasureJobStore(db),
      rows: createPrismaErasureRows(db),
      index: kluis.modules.index,
      blobs: kluis.modules.blobs,
      dataKeys: { destroy: async () => undefined, exists: async () => false },
      audit: createPrismaAuditLog(db),
      afterStep: () => {
        throw new Error('process stopped');
      },
    });
    const job = await crashing.request({ kind: 'user', workspaceId: ub.workspaceId, userId: ub.userId, deleteAccount: false }, { userId: ub.userId, reason: 'user' });
    await expect(crashing.run(job.jobId)).rejects.toThrow('process stopped');
    await kluis.stop();
    // A job saved a moment ago may still be running elsewhere; this one was left two minutes ago.
    await db.erasureJob.update({ where: { id: job.jobId }, data: { updatedAt: new Date(Date.now() - 120_000) } });
    // Another job, saved just now: it may still be running in another process.
    const busy = await crashing.request({ kind: 'user', workspaceId: a.workspaceId, userId: a.userId, deleteAccount: false }, { userId: a.userId, reason: 'user' });
    await expect(crashing.run(busy.jobId)).rejects.toThrow('process stopped');

    kluis = await startTestKluis(env);
    const finished = await untilFinished(`/api/workspace/erasure/${job.jobId}`, adminB);
    expect(finished.body).toMatchObject({ status: 'done', residue: [] });
    expect(finished.body.steps).toEqual([{ name: 'rows', done: true, removed: expect.any(Number) }, { name: 'blobs', done: true, removed: 0 }, { name: 'graphTokens', done: true, removed: 0 }, { name: 'usage', done: true, removed: 1 }]);
    expect(await db.usageDaily.count({ where: { workspaceId: ub.workspaceId, userId: ub.userId } })).toBe(0);
    const untouched = await db.erasureJob.findUniqueOrThrow({ where: { id: busy.jobId } });
    expect(untouched.status).toBe('running');
    expect((untouched.steps as Array<{ done: boolean }>).map((s) => s.done)).toEqual([true, false, false, false]);
    expect((await kluis.modules.eraser.run(busy.jobId)).status).toBe('done');
  }, 60000);
});
