/**
 * The live open check against the local Graph fake over real HTTP: Graph JSON batching as
 * documented, with a user's delegated token, SharePoint deciding per user from the item's
 * permissions, and the failures a batch can meet.
 */
import { randomUUID } from 'node:crypto';
import { startFakeGraph, SITE_MEMBERS_PERMISSION, type FakeGraph } from '../../../tests/fakes/graphServer';
import { isKluisError, KluisError } from '../../errors';
import { createGraphOpenCheck, MAX_BATCH_REQUESTS, type GraphOpenCheckOptions } from './graphOpenCheck';

let fake: FakeGraph;
let driveId: string;
let sleeps: number[];
let failures: unknown[];
const alice = randomUUID();
const bob = randomUUID();

const sharedWith = (oid: string) => [{ id: `p-${oid}`, roles: ['read'], grantedToV2: { user: { id: oid } } }];

beforeEach(async () => {
  fake = await startFakeGraph();
  ({ driveId } = fake.addDrive());
  sleeps = [];
  failures = [];
});

afterEach(async () => {
  await fake.close();
});

function check(user: string, overrides: Partial<GraphOpenCheckOptions> = {}) {
  return createGraphOpenCheck({
    baseUrl: fake.baseUrl,
    getToken: async () => fake.userToken(user),
    sleep: async (ms) => void sleeps.push(ms),
    onFailure: (error) => failures.push(error),
    ...overrides,
  });
}

const ref = (itemId: string) => `${driveId}/${itemId}`;
const batches = () => fake.requests.filter((r) => r.route === 'batch');

describe('Graph open check ($batch with the user token)', () => {
  it('answers true for a file SharePoint lets the user open (200), false when it refuses (403) or the file is gone (404)', async () => {
    const mine = fake.addFile(driveId, { name: 'mine.md', content: 'x', permissions: sharedWith(alice) });
    const bobs = fake.addFile(driveId, { name: 'bobs.md', content: 'x', permissions: sharedWith(bob) });
    const gone = fake.addFile(driveId, { name: 'gone.md', content: 'x', permissions: sharedWith(alice) });
    fake.deleteItem(driveId, gone);

    const verdicts = await check(alice).canOpen([ref(mine), ref(bobs), ref(gone)]);

    expect(Object.fromEntries(verdicts)).toEqual({ [ref(mine)]: true, [ref(bobs)]: false, [ref(gone)]: false });
    // One batch, sent as the user, of item GETs that ask for the id only.
    expect(batches()).toHaveLength(1);
    expect(batches()[0]!.asUser).toBe(alice);
    expect(batches()[0]!.method).toBe('POST');
    expect(batches()[0]!.batch).toEqual([mine, bobs, gone].map((id) => `/drives/${encodeURIComponent(driveId)}/items/${id}?$select=id`));
    expect(failures).toEqual([]);
  });

  it('lets SharePoint decide site-group membership: members may open, others may not', async () => {
    const handbook = fake.addFile(driveId, { name: 'handbook.md', content: 'x', permissions: [SITE_MEMBERS_PERMISSION] });
    fake.setSiteGroupMembers('3', [alice]);

    expect((await check(alice).canOpen([ref(handbook)])).get(ref(handbook))).toBe(true);
    expect((await check(bob).canOpen([ref(handbook)])).get(ref(handbook))).toBe(false);
  });

  it(`sends at most ${MAX_BATCH_REQUESTS} requests in one batch and asks once per file`, async () => {
    const ids = Array.from({ length: 45 }, (_, i) => fake.addFile(driveId, { name: `f${i}.md`, content: 'x', permissions: sharedWith(alice) }));

    const verdicts = await check(alice).canOpen([...ids.map(ref), ref(ids[0]!), ref(ids[1]!)]);

    expect(verdicts.size).toBe(45);
    expect([...verdicts.values()].every((v) => v === true)).toBe(true);
    expect(batches().map((b) => b.batch!.length)).toEqual([20, 20, 5]);
  });

  it('retries only the requests throttled inside the batch, once, after their Retry-After', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => fake.addFile(driveId, { name: `${n}.md`, content: 'x', permissions: sharedWith(alice) }));
    fake.failBatchItem(a!, { status: 429, retryAfterSeconds: 1 });
    fake.failBatchItem(b!, { status: 429, retryAfterSeconds: 2 }, { status: 429, retryAfterSeconds: 2 });

    const verdicts = await check(alice).canOpen([ref(a!), ref(b!), ref(c!)]);

    expect(Object.fromEntries(verdicts)).toEqual({ [ref(a!)]: true, [ref(b!)]: undefined, [ref(c!)]: true });
    expect(batches().map((x) => x.batch!.length)).toEqual([3, 2]);
    expect(sleeps).toEqual([2000]);
  });

  it('does not wait for a long Retry-After inside the batch: that file is unknown', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    fake.failBatchItem(a, { status: 429, retryAfterSeconds: 120 });

    expect((await check(alice).canOpen([ref(a)])).get(ref(a))).toBeUndefined();
    expect(batches()).toHaveLength(1);
    expect(sleeps).toEqual([]);
  });

  it('counts a request failing with 5xx, or 401, as unknown, never as refused', async () => {
    const [a, b] = ['a', 'b'].map((n) => fake.addFile(driveId, { name: `${n}.md`, content: 'x', permissions: sharedWith(alice) }));
    fake.failBatchItem(a!, { status: 500 });
    fake.failBatchItem(b!, { status: 401, code: 'InvalidAuthenticationToken' });

    const verdicts = await check(alice).canOpen([ref(a!), ref(b!)]);

    expect([...verdicts.entries()]).toEqual([
      [ref(a!), undefined],
      [ref(b!), undefined],
    ]);
  });

  it('makes every file unknown when the whole batch answers 503, after one retry honouring a short Retry-After', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    fake.failNext('batch', { kind: 'throttle', status: 503, retryAfterSeconds: 1 }, { kind: 'throttle', status: 503, retryAfterSeconds: 1 });

    const verdicts = await check(alice).canOpen([ref(a)]);

    expect(verdicts.get(ref(a))).toBeUndefined();
    expect(verdicts.has(ref(a))).toBe(true);
    expect(batches().map((b) => b.status)).toEqual([503, 503]);
    expect(sleeps).toEqual([1000]);
    expect(failures).toHaveLength(1);
    expect(isKluisError(failures[0], 'graph_unavailable')).toBe(true);
  });

  it('recovers when the retried batch succeeds', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    fake.failNext('batch', { kind: 'throttle', status: 429, retryAfterSeconds: 1 });

    expect((await check(alice).canOpen([ref(a)])).get(ref(a))).toBe(true);
    expect(batches().map((b) => b.status)).toEqual([429, 200]);
  });

  it('makes every file unknown when the connection drops twice', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    fake.failNext('batch', { kind: 'crash' }, { kind: 'crash' });

    expect((await check(alice).canOpen([ref(a)])).get(ref(a))).toBeUndefined();
    expect(isKluisError(failures[0], 'graph_unavailable')).toBe(true);
  });

  it('makes every file unknown when the answer is not a batch response (malformed body)', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    fake.failNext('batch', { kind: 'malformed' });

    expect((await check(alice).canOpen([ref(a)])).get(ref(a))).toBeUndefined();
    expect(isKluisError(failures[0], 'graph_rejected')).toBe(true);
  });

  it('makes every file unknown when the user token is refused (401), and reports it', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    const token = fake.userToken(alice);
    fake.revokeUserTokens(alice);

    expect((await check(alice, { getToken: async () => token }).canOpen([ref(a)])).get(ref(a))).toBeUndefined();
    expect(isKluisError(failures[0], 'graph_unauthenticated')).toBe(true);
  });

  it('never sends a sourceRef that is not driveId/itemId (local files, traversal, injection): unknown', async () => {
    const hostile = ['policies/travel.md/extra', 'no-slash', '/leading', `${driveId}/../../me`, `${driveId}/a?$expand=children`, `${driveId}/a b`, '', `${driveId}/`];

    const verdicts = await check(alice).canOpen(hostile);

    expect([...verdicts.keys()]).toEqual(hostile);
    expect([...verdicts.values()].every((v) => v === undefined)).toBe(true);
    expect(batches()).toHaveLength(0);
  });

  it('sends the token only to the Graph service root and nothing without a token', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });

    expect((await check(alice, { getToken: async () => '' }).canOpen([ref(a)])).get(ref(a))).toBeUndefined();
    expect(batches()).toHaveLength(0);
    expect(isKluisError(failures[0], 'graph_unauthenticated')).toBe(true);
  });
});

describe('Graph open check: the token itself', () => {
  it('reports a failed token exchange (consent missing) under its own id and sends nothing', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x', permissions: sharedWith(alice) });
    const getToken = async (): Promise<string> => {
      throw new KluisError('consent_required', 'On-Behalf-Of: consent missing');
    };

    expect((await check(alice, { getToken }).canOpen([ref(a)])).get(ref(a))).toBeUndefined();
    expect(batches()).toHaveLength(0);
    expect(isKluisError(failures[0], 'consent_required')).toBe(true);
  });
});

describe('fake Graph $batch wire format', () => {
  const post = (body: string, token = fake.token) => fetch(`${fake.baseUrl}/v1.0/$batch`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body });

  it('answers each request by id with status, headers and body, in its own order', async () => {
    const a = fake.addFile(driveId, { name: 'a.md', content: 'x' });
    const response = await post(JSON.stringify({ requests: [{ id: '1', method: 'GET', url: `/drives/${driveId}/items/${a}?$select=id` }, { id: '2', method: 'GET', url: `/drives/${driveId}/items/nope` }] }));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { responses: Array<{ id: string; status: number; headers: Record<string, string>; body: unknown }> };
    expect(body.responses.map((r) => [r.id, r.status])).toEqual([
      ['2', 404],
      ['1', 200],
    ]);
    expect(body.responses[1]!.body).toEqual({ id: a });
    expect(body.responses[0]!.headers['Content-Type']).toBe('application/json');
  });

  it('refuses more than 20 requests, duplicate ids and a body that is not JSON with 400', async () => {
    const many = Array.from({ length: 21 }, (_, i) => ({ id: String(i), method: 'GET', url: `/drives/${driveId}/items/x` }));
    expect((await post(JSON.stringify({ requests: many }))).status).toBe(400);
    expect((await post(JSON.stringify({ requests: [many[0], many[0]] }))).status).toBe(400);
    expect((await post('not json')).status).toBe(400);
    expect((await post('{}', 'forged')).status).toBe(401);
  });
});
