/**
 * Exporting traces over real HTTP: a running Kluis with OTEL_TRACES_EXPORTER=otlp sends a chat
 * turn's spans to a collector on loopback (POST /v1/traces, OTLP JSON); with the default settings
 * it sends nothing at all, even with a collector's address configured; a bad collector address is
 * refused at start, and a collector that is down costs the turns nothing.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { randomUUID } from 'node:crypto';
import { ConfigError, loadConfig } from '../../api/config';
import { createLogger } from '../../api/logger';
import { NO_TRACING, tracing } from '../../api/operations/tracing';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';

const QUESTION = 'Who approves a business trip outside Europe?';
/** Each Kluis below has its own data folder (and so its own keys): each gets its own tenant. */
const tenants: string[] = [];
const db = openTestDatabase();
let issuer: FakeEntraIssuer;

interface Received {
  method: string;
  url: string;
  contentType: string;
  body: Buffer;
}

/** A stand-in OTLP/HTTP collector on loopback: records every request, answers 200 `{}`. */
async function startCollector() {
  const received: Received[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ method: req.method ?? '', url: req.url ?? '', contentType: req.headers['content-type'] ?? '', body: Buffer.concat(chunks) });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { endpoint: `http://127.0.0.1:${port}`, received, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A loopback port where nothing listens. */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const kluisEnv = (tenant: string, extra: Record<string, string>) => ({
  LOCAL_TENANT_ID: randomUUID(),
  ONBOARD_TENANTS: `${tenant}=Contoso Export`,
  ENTRA_CLIENT_ID: issuer.clientId,
  ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`,
  ENTRA_AUTHORITY_HOST: issuer.authorityHost,
  ...extra,
});

/** One POST /api/chat; resolves with the SSE text once the answer is complete. */
async function chat(base: string, tenant: string, headers: Record<string, string> = {}): Promise<string> {
  const bearer = await issuer.issueAccessToken({ tid: tenant, oid: randomUUID(), iss: `${issuer.authorityHost}/${tenant}/v2.0`, aud: issuer.clientId, roles: ['Kluis.User'] });
  const response = await fetch(`${base}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}`, ...headers },
    body: JSON.stringify({ message: QUESTION, channel: 'tab', conversationId: randomUUID() }),
  });
  expect(response.status).toBe(200);
  return response.text();
}

type OtlpValue = { stringValue?: string; intValue?: string | number; boolValue?: boolean; doubleValue?: number };
type OtlpAttribute = { key: string; value: OtlpValue };
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes: OtlpAttribute[];
  status: { code?: number };
}
interface OtlpRequest {
  resourceSpans: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: OtlpSpan[] }> }>;
}

function newTenant(): string {
  const tenant = randomUUID();
  tenants.push(tenant);
  return tenant;
}

const attributesOf = (list: OtlpAttribute[]) => Object.fromEntries(list.map((a) => [a.key, a.value.stringValue ?? a.value.boolValue ?? a.value.doubleValue ?? Number(a.value.intValue)]));

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
});

afterAll(async () => {
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: { in: tenants } } });
  await db.$disconnect();
});

describe('OTLP export', () => {
  it('sends a chat turn to the collector as OTLP JSON: one trace, chat.turn -> assistant.answer -> knowledge.search and provider.chat', async () => {
    const collector = await startCollector();
    const tenant = newTenant();
    const kluis = await startTestKluis(
      kluisEnv(tenant, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint, OTEL_SERVICE_NAME: 'kluis-export-test', OTEL_DEPLOYMENT_ENVIRONMENT: 'ci', KNOWLEDGE_DIR: 'demo/knowledge', KNOWLEDGE_TENANT_ID: tenant }),
    );
    try {
      expect(tracing()).not.toBe(NO_TRACING);
      expect(await chat(kluis.url, tenant)).toContain('event: done');
    } finally {
      // Stopping flushes the last batch.
      await kluis.stop();
      await collector.close();
    }
    expect(tracing()).toBe(NO_TRACING);

    expect(collector.received.length).toBeGreaterThanOrEqual(1);
    for (const r of collector.received) expect([r.method, r.url, r.contentType]).toEqual(['POST', '/v1/traces', 'application/json']);
    const requests = collector.received.map((r) => JSON.parse(r.body.toString('utf8')) as OtlpRequest);
    const resource = attributesOf(requests[0]!.resourceSpans[0]!.resource.attributes);
    expect(resource).toMatchObject({ 'service.name': 'kluis-export-test', 'deployment.environment.name': 'ci', 'deployment.environment': 'ci' });
    const spans = requests.flatMap((q) => q.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans)));

    const turn = spans.find((s) => s.name === 'chat.turn')!;
    expect(turn).toBeDefined();
    const trace = spans.filter((s) => s.traceId === turn.traceId);
    const named = (name: string) => {
      const found = trace.filter((s) => s.name === name);
      expect([name, found.length]).toEqual([name, 1]);
      return found[0]!;
    };
    const answer = named('assistant.answer');
    const search = named('knowledge.search');
    const call = named('provider.chat');
    expect(turn.parentSpanId ?? '').toBe('');
    expect(answer.parentSpanId).toBe(turn.spanId);
    expect(search.parentSpanId).toBe(answer.spanId);
    expect(call.parentSpanId).toBe(answer.spanId);
    // SERVER for the turn, CLIENT for the call out (OTLP SpanKind numbers).
    expect([turn.kind, answer.kind, call.kind]).toEqual([2, 1, 3]);
    expect(attributesOf(turn.attributes)).toMatchObject({ 'kluis.channel': 'tab', 'kluis.task': 'answer' });
    expect(attributesOf(search.attributes)['kluis.search.hits']).toBeGreaterThanOrEqual(1);
    expect(attributesOf(call.attributes)).toMatchObject({ 'gen_ai.provider.name': 'extractive', 'kluis.provider.outcome': 'success' });
    // The wire carries no question and no tenant name.
    const wire = collector.received.map((r) => r.body.toString('utf8')).join('\n');
    for (const secret of ['business trip', 'Europe', 'Contoso']) expect([secret, wire.includes(secret)]).toEqual([secret, false]);
  });

  it('exports nothing and makes no network call with the default settings, even with a collector address set or a caller trace to continue', async () => {
    const collector = await startCollector();
    const tenant = newTenant();
    const kluis = await startTestKluis(kluisEnv(tenant, { OTEL_EXPORTER_OTLP_ENDPOINT: collector.endpoint }));
    try {
      expect(tracing()).toBe(NO_TRACING);
      expect(await chat(kluis.url, tenant)).toContain('event: done');
      expect(await chat(kluis.url, tenant, { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' })).toContain('event: done');
      expect(await chat(kluis.url, tenant, { traceparent: `ff-${'0'.repeat(32)}-${'x'.repeat(4_000)}` })).toContain('event: done');
    } finally {
      await kluis.stop();
    }
    // After the stop (which flushes an exporter, had there been one) the collector has heard nothing.
    expect(collector.received).toEqual([]);
    await collector.close();
  });

  it('refuses a collector address that is not an http(s) URL, naming the setting', () => {
    const load = (env: Record<string, string>) => loadConfig({ LOCAL_MODE: 'true', ...env }, { dotenv: false, cwd: '/srv/kluis' });
    expect(load({}).tracing).toEqual({ exporter: 'none', endpoint: 'http://127.0.0.1:4318', serviceName: 'kluis', environment: 'local', sampleRatio: 1 });
    for (const endpoint of ['not a url', 'file:///etc/passwd', 'ftp://collector.example:4318', '127.0.0.1:4318']) {
      expect(() => load({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })).toThrow(ConfigError);
      expect(() => load({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: endpoint })).toThrow(/^Setting OTEL_EXPORTER_OTLP_ENDPOINT: expected an http\(s\) URL/);
    }
    expect(() => load({ OTEL_TRACES_EXPORTER: 'jaeger' })).toThrow(/OTEL_TRACES_EXPORTER: expected none, otlp or console/);
    expect(() => load({ OTEL_TRACES_SAMPLER_ARG: '1.5' })).toThrow(/OTEL_TRACES_SAMPLER_ARG: expected a share from 0 to 1/);
    expect(() => load({ OTEL_SERVICE_NAME: 'kluis prod' })).toThrow(/OTEL_SERVICE_NAME/);
    expect(load({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: 'https://otel.example.com:4318/', OTEL_TRACES_SAMPLER_ARG: '0.25' }).tracing).toEqual({
      exporter: 'otlp',
      endpoint: 'https://otel.example.com:4318',
      serviceName: 'kluis',
      environment: 'local',
      sampleRatio: 0.25,
    });
  });

  it('keeps answering when the collector is unreachable, and logs the dropped spans', async () => {
    const logLines: string[] = [];
    const tenant = newTenant();
    const kluis = await startTestKluis(kluisEnv(tenant, { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${await closedPort()}` }), {
      logger: createLogger('info', { write: (line: string) => void logLines.push(line) }),
    });
    try {
      expect(await chat(kluis.url, tenant)).toContain('event: done');
      expect(await chat(kluis.url, tenant)).toContain('event: done');
    } finally {
      await kluis.stop();
    }
    const dropped = logLines.map((l) => JSON.parse(l) as { msg?: string; droppedSpans?: number; level?: number }).filter((l) => l.msg === 'traces could not be exported: spans dropped');
    expect(dropped.length).toBeGreaterThanOrEqual(1);
    expect(dropped[0]!.droppedSpans).toBeGreaterThanOrEqual(1);
    expect(tracing()).toBe(NO_TRACING);
  });
});
