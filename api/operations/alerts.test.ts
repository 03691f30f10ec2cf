import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAlertDetectors, slidingWindowDetector, type AlertThresholds } from './alerts';
import { createAlertSink } from './alertSink';
import { NO_METRICS, type AlertEvent, type AlertKind } from './ports';

const limits: AlertThresholds = {
  loginFailures: { threshold: 3, windowSeconds: 60 },
  documentReads: { threshold: 10, windowSeconds: 60 },
  authorizationRefusals: { threshold: 2, windowSeconds: 30 },
  providerErrors: { threshold: 2, windowSeconds: 60 },
};

function detectors() {
  let now = Date.parse('2026-12-07T00:00:00Z');
  const raised: AlertEvent[] = [];
  const d = createAlertDetectors({ thresholds: limits, sink: { raise: (a) => raised.push(a) }, now: () => now });
  return { d, raised, advance: (seconds: number) => (now += seconds * 1000) };
}

describe('sliding-window detectors', () => {
  it('raises nothing below the threshold, one alert at it, none more in the window', () => {
    const { d, raised, advance } = detectors();
    d.loginFailed('ws-1');
    d.loginFailed('ws-1');
    expect(raised).toHaveLength(0);
    d.loginFailed('ws-1');
    expect(raised).toEqual([{ kind: 'login_failures', workspaceId: 'ws-1', count: 3, threshold: 3, windowSeconds: 60, at: '2026-12-07T00:00:00.000Z' }]);
    for (let i = 0; i < 10; i++) {
      advance(1);
      d.loginFailed('ws-1');
    }
    expect(raised).toHaveLength(1);
  });

  it('alerts again once a full window has passed since the alert and the burst goes on', () => {
    const { d, raised, advance } = detectors();
    for (let i = 0; i < 3; i++) d.loginFailed('ws-1');
    advance(60);
    for (let i = 0; i < 2; i++) d.loginFailed('ws-1');
    expect(raised).toHaveLength(1); // the old events have left the window: 2 < 3
    d.loginFailed('ws-1');
    expect(raised).toHaveLength(2);
    expect(raised[1]).toMatchObject({ kind: 'login_failures', count: 3 });
  });

  it('forgets events older than the window, so a slow trickle never alerts', () => {
    const { d, raised, advance } = detectors();
    for (let i = 0; i < 20; i++) {
      d.loginFailed('ws-1');
      advance(31);
    }
    expect(raised).toHaveLength(0);
  });

  it('keeps workspaces, users and providers apart', () => {
    const { d, raised } = detectors();
    d.loginFailed('ws-1');
    d.loginFailed('ws-2');
    d.loginFailed(undefined);
    d.authorizationRefused('ws-1', 'u-1');
    d.authorizationRefused('ws-1', 'u-2');
    d.authorizationRefused('ws-2', 'u-1');
    d.providerFailed('openai');
    d.providerFailed('anthropic');
    expect(raised).toHaveLength(0);
    d.authorizationRefused('ws-1', 'u-1');
    d.providerFailed('openai', 'ws-9');
    expect(raised.map((a) => [a.kind, a.workspaceId, a.userId, a.provider])).toEqual([
      ['authorization_refusals', 'ws-1', 'u-1', undefined],
      ['provider_errors', 'ws-9', undefined, 'openai'],
    ]);
  });

  it('weighs document reads by the number of documents', () => {
    const { d, raised } = detectors();
    d.documentsRead('ws-1', 'u-1', 6);
    expect(raised).toHaveLength(0);
    d.documentsRead('ws-1', 'u-1', 4);
    expect(raised).toEqual([expect.objectContaining({ kind: 'document_reads', workspaceId: 'ws-1', userId: 'u-1', count: 10 })]);
  });

  it('is off with a threshold of 0', () => {
    const detector = slidingWindowDetector({ threshold: 0, windowSeconds: 60 });
    for (let i = 0; i < 100; i++) expect(detector.hit('k').raised).toBe(false);
  });

  it('follows a bounded number of keys, forgetting the least recently seen', () => {
    const detector = slidingWindowDetector({ threshold: 2, windowSeconds: 60 }, () => 0, 3);
    for (const key of ['a', 'b', 'c', 'a', 'd']) detector.hit(key);
    expect(detector.size()).toBe(3);
    expect(detector.hit('b').raised).toBe(false); // b was forgotten: this is its first event again
    expect(detector.hit('a').raised).toBe(false); // a was forgotten when b came back (c, d, b... a evicted)
  });
});

describe('alert sink', () => {
  const alert: AlertEvent = { kind: 'login_failures', workspaceId: 'ws-1', count: 3, threshold: 3, windowSeconds: 60, at: '2026-12-07T00:00:00.000Z' };
  let server: http.Server;
  let url: string;
  const received: Array<{ headers: http.IncomingHttpHeaders; body: string }> = [];
  let hang = false;

  beforeAll(async () => {
    server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        if (hang) return; // never answers: the sink's timeout must end the call
        res.writeHead(req.url === '/refuse' ? 500 : 204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  beforeEach(() => {
    received.length = 0;
    hang = false;
  });

  function sink(path = '/hook', timeoutMs = 2000) {
    const logs: Array<{ level: string; fields: Record<string, unknown> }> = [];
    const kinds: AlertKind[] = [];
    const s = createAlertSink({
      log: { warn: (fields) => logs.push({ level: 'warn', fields }), error: (fields) => logs.push({ level: 'error', fields }) },
      metrics: { ...NO_METRICS, alertRaised: (kind) => kinds.push(kind) },
      webhook: { url: `${url}${path}`, timeoutMs },
      tenantOf: async (id) => (id === 'ws-1' ? 'tenant-1' : undefined),
    });
    return { s, logs, kinds };
  }

  it('posts the alert as JSON, logs an alert event and counts it', async () => {
    const { s, logs, kinds } = sink();
    s.raise(alert);
    await s.settled();
    expect(received).toHaveLength(1);
    expect(received[0]!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(received[0]!.body)).toEqual({ source: 'kluis', ...alert, tenantId: 'tenant-1' });
    expect(logs).toEqual([{ level: 'warn', fields: { event: 'alert', ...alert, tenantId: 'tenant-1' } }]);
    expect(kinds).toEqual(['login_failures']);
  });

  it('returns at once while the webhook hangs, and logs the timeout', async () => {
    hang = true;
    const { s, logs } = sink('/hook', 200);
    s.raise(alert); // returns synchronously: the POST runs in the background
    expect(logs.filter((l) => l.level === 'error')).toHaveLength(0); // nothing has failed yet: the POST is still out
    await s.settled();
    expect(logs.filter((l) => l.level === 'error')).toEqual([{ level: 'error', fields: { event: 'alert.webhook_failed', kind: 'login_failures', reason: 'timeout' } }]);
  });

  it('logs a refused or unreachable webhook without throwing', async () => {
    const refused = sink('/refuse');
    refused.s.raise(alert);
    await refused.s.settled();
    expect(refused.logs.at(-1)).toEqual({ level: 'error', fields: { event: 'alert.webhook_failed', kind: 'login_failures', status: 500 } });

    const gone = createAlertSink({ log: { warn: () => undefined, error: (fields) => received.push({ headers: {}, body: JSON.stringify(fields) }) }, metrics: NO_METRICS, webhook: { url: 'http://127.0.0.1:1/', timeoutMs: 1000 } });
    gone.raise(alert);
    await gone.settled();
    expect(JSON.parse(received.at(-1)!.body)).toEqual({ event: 'alert.webhook_failed', kind: 'login_failures', reason: 'unreachable' });
  });
});
