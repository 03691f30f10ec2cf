/** /api/answers/:id/feedback over real HTTP: one's own answers only, bad input refused, nothing lost. */
import { randomUUID } from 'node:crypto';
import { createPrismaConversationStore } from '../../api/assistant/prismaConversationStore';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const tenantA = randomUUID();
const tenantB = randomUUID();
const db = openTestDatabase();
const conversations = createPrismaConversationStore(db);
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const oid = { owner: randomUUID(), colleague: randomUUID(), other: randomUUID() };
let answer: string;
let question: string;

const token = (tid: string, userOid: string, role = 'Kluis.User') => issuer.bearerFor(tid, userOid, [role]);

async function call(method: string, path: string, bearer: string, payload?: unknown) {
  const body = payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload);
  const response = await fetch(`${kluis.url}${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({ LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam`, ...issuer.kluisSettings() });
  const me = (await call('GET', '/api/me', await token(tenantA, oid.owner))).body as { workspaceId: string; userId: string };
  const conversation = await conversations.openConversation(me.workspaceId, { channel: 'tab', externalId: randomUUID(), userId: me.userId });
  question = (await conversations.appendMessage(me.workspaceId, conversation.id, { role: 'user', text: 'Leave days?', authorUserId: me.userId })).id;
  answer = (await conversations.appendMessage(me.workspaceId, conversation.id, { role: 'assistant', text: '25 [1].', provider: 'extractive' })).id;
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: [tenantA, tenantB] } } });
  await db.$disconnect();
});

describe('/api/answers/:id/feedback', () => {
  it('stores the owner\'s rating and returns it', async () => {
    const put = await call('PUT', `/api/answers/${answer}/feedback`, await token(tenantA, oid.owner), { reaction: 'dislike', comment: '<b>wrong</b>' });
    expect(put.status).toBe(200);
    expect(put.body).toMatchObject({ messageId: answer, reaction: 'dislike', comment: '<b>wrong</b>' });
    const get = await call('GET', `/api/answers/${answer}/feedback`, await token(tenantA, oid.owner));
    expect(get.body.feedback).toMatchObject({ reaction: 'dislike', comment: '<b>wrong</b>' });
  });

  it.each([
    ['a colleague, even an admin (cross-user)', () => token(tenantA, oid.colleague, 'Kluis.Admin'), () => answer],
    ['someone of another workspace (cross-workspace)', () => token(tenantB, oid.other, 'Kluis.Admin'), () => answer],
    ['the owner on their own question', () => token(tenantA, oid.owner), () => question],
    ['the owner with a malformed id', () => token(tenantA, oid.owner), () => '..%2F..%2Fusage'],
  ])('answers 404 to %s and changes nothing', async (_what, bearer, id) => {
    const r = await call('PUT', `/api/answers/${id()}/feedback`, await bearer(), { reaction: 'like' });
    expect(r.status).toBe(404);
    expect(r.body.error.id).toBe('not_found');
    expect((await call('GET', `/api/answers/${answer}/feedback`, await token(tenantA, oid.owner))).body.feedback.reaction).toBe('dislike');
  });

  it.each([
    ['an unknown reaction', { reaction: 'meh' }],
    ['a comment over 2,000 characters', { reaction: 'like', comment: 'x'.repeat(2001) }],
    ['a comment that is an object', { reaction: 'like', comment: { toString: 'x' } }],
    ['an unknown field', { reaction: 'like', messageId: randomUUID() }],
  ])('refuses %s with 400 and changes nothing', async (_what, body) => {
    const r = await call('PUT', `/api/answers/${answer}/feedback`, await token(tenantA, oid.owner), body);
    expect(r.status).toBe(400);
    expect(r.body.error.id).toBe('request_malformed');
    expect((await call('GET', `/api/answers/${answer}/feedback`, await token(tenantA, oid.owner))).body.feedback.reaction).toBe('dislike');
  });

  it('refuses an oversized body with 413', async () => {
    const r = await call('PUT', `/api/answers/${answer}/feedback`, await token(tenantA, oid.owner), JSON.stringify({ reaction: 'like', comment: 'x'.repeat(70 * 1024) }));
    expect(r.status).toBe(413);
  });
});
