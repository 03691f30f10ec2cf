/**
 * The plumbing the fake provider servers share: a real HTTP server on a free loopback port, every
 * request recorded (credentials redacted, so keys never land in test output), a queue of scripted
 * replies, and a close() that also ends hanging requests and keep-alive sockets. Each wire module
 * (anthropicServer, geminiServer, stabilityServer) supplies the routing and the provider's formats.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedHttpRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  /** Lower-case names; credential headers replaced by '[redacted]'. */
  headers: Record<string, string>;
  /** The raw body; JSON bodies also parsed into `json` (null when not JSON). */
  raw: Buffer;
  json: any;
}

export interface FakeHttpService<Reply> {
  origin: string;
  requests: RecordedHttpRequest[];
  /** Replies for the next requests, in order; the service's default answers when the queue is empty. */
  enqueue(...replies: Reply[]): void;
  /** Takes the next scripted reply, if any. */
  next(): Reply | undefined;
  close(): Promise<void>;
}

const CREDENTIAL_HEADERS = ['authorization', 'x-api-key', 'api-key', 'x-goog-api-key'];

export async function startFakeHttpService<Reply>(
  handle: (request: RecordedHttpRequest, res: ServerResponse, service: FakeHttpService<Reply>) => void | Promise<void>,
): Promise<FakeHttpService<Reply>> {
  const requests: RecordedHttpRequest[] = [];
  const queue: Reply[] = [];

  const server = createServer((req, res) => {
    void (async () => {
      const raw = await readBody(req);
      const url = new URL(req.url ?? '/', 'http://fake');
      const query = Object.fromEntries(url.searchParams);
      if (query.key !== undefined) query.key = '[redacted]';
      const recorded: RecordedHttpRequest = { method: req.method ?? 'GET', path: url.pathname, query, headers: recordedHeaders(req), raw, json: parseJson(raw) };
      requests.push(recorded);
      // The handler sees the real credentials through the request object it closes over.
      (recorded as RecordedHttpRequest & { credentials?: Credentials }).credentials = credentialsOf(req, url);
      await handle(recorded, res, service);
    })().catch(() => {
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end('{"error":"fake server failure"}');
      } else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;

  const service: FakeHttpService<Reply> = {
    origin: `http://127.0.0.1:${port}`,
    requests,
    enqueue: (...replies) => {
      queue.push(...replies);
    },
    next: () => queue.shift(),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
  return service;
}

export interface Credentials {
  bearer?: string;
  headers: Record<string, string | undefined>;
  queryKey?: string;
}

/** The credentials a request presented (never recorded; for the fake's own checks). */
export function credentialsFor(request: RecordedHttpRequest): Credentials {
  return (request as RecordedHttpRequest & { credentials?: Credentials }).credentials ?? { headers: {} };
}

function credentialsOf(req: IncomingMessage, url: URL): Credentials {
  const headers: Record<string, string | undefined> = {};
  for (const name of CREDENTIAL_HEADERS) {
    const value = req.headers[name];
    headers[name] = Array.isArray(value) ? value[0] : value;
  }
  const authorization = headers.authorization;
  return {
    bearer: authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length).trim() : undefined,
    headers,
    queryKey: url.searchParams.get('key') ?? undefined,
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Starts a server-sent event stream; write events with `event()` and finish with res.end(). */
export function startEventStream(res: ServerResponse, headers: Record<string, string> = {}) {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', ...headers });
  return {
    event(name: string | undefined, data: unknown): void {
      res.write(`${name === undefined ? '' : `event: ${name}\n`}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`);
    },
    end(): void {
      res.end();
    },
  };
}

function recordedHeaders(req: IncomingMessage): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined) continue;
    headers[name] = CREDENTIAL_HEADERS.includes(name) ? '[redacted]' : Array.isArray(value) ? value.join(', ') : value;
  }
  return headers;
}

function parseJson(raw: Buffer): any {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return null;
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** Listens on a free loopback port; resolves with the port. */
export function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

/** Closes the server, dropping keep-alive sockets (fetch and the Azure pipeline hold them) and requests left unanswered. */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve, reject) => {
    server.close((error) => (error ? reject(error) : resolve()));
    server.closeAllConnections();
  });
}
