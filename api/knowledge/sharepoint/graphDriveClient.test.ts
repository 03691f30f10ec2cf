/**
 * The Graph adapter against the local Graph fake over real HTTP: the SDK's request building,
 * redirects and our retry and bearer middleware as they run in production.
 */
import { kluisRejection } from '../../../tests/support/errors';
import { startFakeGraph, type FakeGraph } from '../../../tests/fakes/graphServer';
import { createGraphDriveClient, retryAfterSeconds, type GraphDriveClientOptions } from './graphDriveClient';
import type { DeltaResult, DriveItem } from './ports';

let fake: FakeGraph;
let driveId: string;
let rootId: string;
let sleeps: number[];
let tokenCalls: number;

beforeEach(async () => {
  fake = await startFakeGraph({ pageSize: 3 });
  ({ driveId, rootId } = fake.addDrive());
  sleeps = [];
  tokenCalls = 0;
});

afterEach(async () => {
  await fake.close();
});

function client(overrides: Partial<GraphDriveClientOptions> = {}) {
  return createGraphDriveClient({
    baseUrl: fake.baseUrl,
    getToken: async () => {
      tokenCalls++;
      return fake.token;
    },
    maxDownloadBytes: 1024,
    maxRetries: 3,
    baseDelayMs: 100,
    sleep: async (ms) => void sleeps.push(ms),
    ...overrides,
  });
}

function page(result: DeltaResult): Extract<DeltaResult, { kind: 'page' }> {
  if (result.kind !== 'page') throw new Error(`expected a page, got ${result.kind}`);
  return result;
}

describe('delta', () => {
  it('follows nextLink pages to a deltaLink, with the bearer token on every request', async () => {
    const folder = fake.addFolder(driveId, 'Beleid');
    for (let i = 0; i < 5; i++) fake.addFile(driveId, { name: `doc-${i}.md`, content: `# Doc ${i}\n`, parentId: folder });
    const graph = client();

    const items: DriveItem[] = [];
    let result = page(await graph.delta({ driveId }));
    items.push(...result.value);
    let pages = 1;
    while (result.nextLink) {
      result = page(await graph.delta(result.nextLink));
      items.push(...result.value);
      pages++;
    }

    expect(pages).toBe(3);
    expect(result.deltaLink).toMatch(/root\/delta\?token=/);
    expect(items.map((i) => i.name)).toEqual(['root', 'Beleid', 'doc-0.md', 'doc-1.md', 'doc-2.md', 'doc-3.md', 'doc-4.md']);
    expect(items[0]).toMatchObject({ id: rootId, root: {} });
    expect(items[2]).toMatchObject({ file: { mimeType: 'text/markdown' }, parentReference: { id: folder } });
    expect(fake.requests.map((r) => r.authorization)).toEqual(Array(3).fill(`Bearer ${fake.token}`));
    expect(fake.requests[0]!.url).toBe(`/v1.0/drives/${encodeURIComponent(driveId)}/root/delta`);
  });

  it('signals resyncRequired on 410 Gone, with the Location that starts a fresh enumeration', async () => {
    fake.addFile(driveId, { name: 'a.md', content: 'a' });
    const graph = client();
    let result = page(await graph.delta({ driveId }));
    while (result.nextLink) result = page(await graph.delta(result.nextLink));
    fake.expireDeltaTokens(driveId);

    const gone = await graph.delta(result.deltaLink!);

    expect(gone).toEqual({ kind: 'resyncRequired', code: 'resyncChangesApplyDifferences', location: expect.stringContaining(`${fake.baseUrl}/v1.0/drives/`) });
    if (gone.kind !== 'resyncRequired') throw new Error('unreachable');
    expect(page(await graph.delta(gone.location!)).value[0]).toMatchObject({ id: rootId });
  });

  it('refuses a link outside the configured service root without sending anything', async () => {
    const graph = client();

    const error = await kluisRejection(graph.delta('https://attacker.example/v1.0/drives/x/root/delta?token=abc'));

    expect(error.id).toBe('graph_rejected');
    expect(fake.requests).toEqual([]);
  });

  it('maps 401, 404 and 400 to catalogued errors', async () => {
    expect((await kluisRejection(client({ getToken: async () => 'wrong' }).delta({ driveId }))).id).toBe('graph_unauthenticated');
    expect((await kluisRejection(client().delta({ driveId: 'b!unknown' }))).id).toBe('not_found');
    fake.failNext('delta', { kind: 'status', status: 400, code: 'invalidRequest' });
    expect((await kluisRejection(client().delta({ driveId }))).id).toBe('graph_rejected');
  });
});

describe('throttling and transient failures', () => {
  it('waits as long as Retry-After says on 429, then succeeds', async () => {
    fake.failNext('delta', { kind: 'throttle', status: 429, retryAfterSeconds: 7 });

    const result = page(await client().delta({ driveId }));

    expect(result.value).toHaveLength(1);
    expect(sleeps).toEqual([7000]);
    expect(fake.requests.map((r) => r.status)).toEqual([429, 200]);
    // A token per attempt: a long wait must not send an expired one.
    expect(tokenCalls).toBe(2);
  });

  it('honours Retry-After on 503 and backs off exponentially without it', async () => {
    fake.failNext('permissions', { kind: 'throttle', status: 503, retryAfterSeconds: 2 }, { kind: 'throttle', status: 503 }, { kind: 'status', status: 502 });

    const permissions = await client().permissions(driveId, rootId);

    expect(permissions).toHaveLength(1);
    expect(sleeps[0]).toBe(2000);
    // Back-off with jitter: between half and all of 100 ms * 2^attempt.
    expect(sleeps[1]).toBeGreaterThanOrEqual(100);
    expect(sleeps[1]).toBeLessThanOrEqual(200);
    expect(sleeps[2]).toBeGreaterThanOrEqual(200);
    expect(sleeps[2]).toBeLessThanOrEqual(400);
    expect(fake.requests.map((r) => r.status)).toEqual([503, 503, 502, 200]);
  });

  it('retries a dropped connection and gives up after the bounded number of retries', async () => {
    fake.failNext('delta', { kind: 'crash' });
    expect(page(await client().delta({ driveId })).value).toHaveLength(1);

    fake.requests.length = 0;
    fake.failNext('delta', ...Array(4).fill({ kind: 'crash' }));
    const error = await kluisRejection(client().delta({ driveId }));

    expect(error.id).toBe('graph_unavailable');
    expect(fake.requests).toHaveLength(4);
  });

  it('does not sit out a long Retry-After: it fails at once and passes the wait on', async () => {
    fake.failNext('delta', { kind: 'throttle', status: 429, retryAfterSeconds: 3600 });

    const error = await kluisRejection(client().delta({ driveId }));

    expect(error).toMatchObject({ id: 'graph_unavailable', retryAfterSeconds: 3600 });
    expect(sleeps).toEqual([]);
    expect(fake.requests).toHaveLength(1);
  });

  it('gives up on persistent throttling with the last Retry-After', async () => {
    fake.failNext('delta', ...Array(4).fill({ kind: 'throttle', status: 429, retryAfterSeconds: 1 }));

    const error = await kluisRejection(client().delta({ driveId }));

    expect(error).toMatchObject({ id: 'graph_unavailable', retryAfterSeconds: 1 });
    expect(sleeps).toEqual([1000, 1000, 1000]);
  });

  it('reads Retry-After as seconds or as an HTTP date', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    expect(retryAfterSeconds('5', now)).toBe(5);
    expect(retryAfterSeconds('Wed, 01 Jan 2025 00:00:30 GMT', now)).toBe(30);
    expect(retryAfterSeconds('soon', now)).toBeUndefined();
    expect(retryAfterSeconds(null, now)).toBeUndefined();
  });
});

describe('download', () => {
  it('follows the 302 to the pre-authenticated URL without sending the token there', async () => {
    const id = fake.addFile(driveId, { name: 'a.md', content: '# Hello\n' });

    const bytes = await client().download(driveId, id);

    expect(bytes.toString()).toBe('# Hello\n');
    const [content, download] = fake.requests;
    expect(content).toMatchObject({ route: 'content', status: 302, authorization: `Bearer ${fake.token}` });
    expect(download).toMatchObject({ route: 'download', status: 200, authorization: undefined });
  });

  it('reads the bytes of a direct answer too', async () => {
    fake.contentMode = 'direct';
    const id = fake.addFile(driveId, { name: 'a.txt', content: 'plain' });

    expect((await client().download(driveId, id)).toString()).toBe('plain');
  });

  it('retries a failed download host from the Graph request, not from the stale redirect', async () => {
    const id = fake.addFile(driveId, { name: 'a.md', content: 'again' });
    fake.failNext('download', { kind: 'throttle', status: 503 });

    expect((await client().download(driveId, id)).toString()).toBe('again');
    expect(fake.requests.map((r) => `${r.route}:${r.status}`)).toEqual(['content:302', 'download:503', 'content:302', 'download:200']);
  });

  it('refuses a file larger than the limit', async () => {
    const id = fake.addFile(driveId, { name: 'big.txt', content: 'x'.repeat(2000) });

    const error = await kluisRejection(client().download(driveId, id));

    expect(error.id).toBe('file_too_large');
    expect(error.message).toContain('1024');
  });

  it('stops reading a file without Content-Length once it passes the limit', async () => {
    fake.contentLength = false;
    const small = fake.addFile(driveId, { name: 'small.txt', content: 'y'.repeat(1000) });
    const big = fake.addFile(driveId, { name: 'big.txt', content: 'x'.repeat(4000) });

    expect((await client().download(driveId, small)).length).toBe(1000);
    const error = await kluisRejection(client().download(driveId, big));
    expect(error.id).toBe('file_too_large');
    // Caught while streaming: no declared size to quote.
    expect(error.message).toBe('larger than 1024 bytes');
  });

  it('maps a missing item to not_found', async () => {
    expect((await kluisRejection(client().download(driveId, '01NOSUCHITEM'))).id).toBe('not_found');
  });
});

describe('permissions', () => {
  it('lists the item permissions as Graph returns them', async () => {
    const permission = { id: 'link', roles: ['read'], link: { scope: 'organization', type: 'view' } };
    const id = fake.addFile(driveId, { name: 'a.md', content: 'a', permissions: [permission] });

    expect(await client().permissions(driveId, id)).toEqual([permission]);
  });
});

describe('service root', () => {
  it('accepts a root with a trailing slash and rejects one with credentials or a query', async () => {
    expect(page(await client({ baseUrl: `${fake.baseUrl}/` }).delta({ driveId })).value).toHaveLength(1);
    expect(() => client({ baseUrl: 'https://user:pw@graph.example' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => client({ baseUrl: 'https://graph.example/?x=1' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    expect(() => client({ baseUrl: 'ftp://graph.example' })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
  });
});
