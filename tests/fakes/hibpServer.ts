/**
 * A local stand-in for the Have I Been Pwned Pwned Passwords range API, over real HTTP so the
 * client's headers, timeouts and retries run as they would against api.pwnedpasswords.com.
 *
 * Wire format as documented by HIBP: `GET /range/{first 5 hex of the SHA-1}` answers
 * `text/plain` lines `SUFFIX:COUNT` (35 upper-case hex characters, CRLF line endings, sorted).
 * With the `Add-Padding: true` request header the answer is padded with random suffixes of count
 * 0 to between 800 and 1,000 lines. An invalid prefix gets 400. Failures are scripted with
 * `failNext` and consumed one request at a time.
 */
import { createHash, randomBytes, randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export type HibpFailure =
  /** Any status with a short plain body, e.g. 500 or 503. */
  | { kind: 'status'; status: number }
  /** 429 as HIBP sends it when a client is too fast. */
  | { kind: 'rate-limit'; retryAfterSeconds: number }
  /** Never answers: the request stays open until the client gives up or the server closes. */
  | { kind: 'hang' }
  /** Sends the headers and the first rows of a 200, then stalls: the body never completes. */
  | { kind: 'stall-body' }
  /** 200 with a body that is not a range answer (an HTML error page by default). */
  | { kind: 'garbage'; body?: string };

export interface HibpRecordedRequest {
  method: string;
  path: string;
  /** Lower-case names, as Node reports them. */
  headers: Record<string, string>;
}

export interface FakeHibp {
  baseUrl: string;
  requests: HibpRecordedRequest[];
  /** Makes the password appear breached `count` times. */
  addBreached(password: string, count: number): void;
  /** Adds a padding row (count 0) whose suffix is exactly this password's, as real padding may. */
  addPaddingFor(password: string): void;
  /** Answers with lower-case suffixes, to prove the client does not depend on case. */
  setLowercase(lowercase: boolean): void;
  failNext(...failures: HibpFailure[]): void;
  close(): Promise<void>;
}

export function sha1Hex(password: string): string {
  return createHash('sha1').update(password, 'utf8').digest('hex').toUpperCase();
}

export async function startFakeHibp(options: { breached?: Record<string, number> } = {}): Promise<FakeHibp> {
  const requests: HibpRecordedRequest[] = [];
  const failures: HibpFailure[] = [];
  // Full SHA-1 (upper case) -> count. Count 0 entries are forced padding rows.
  const hashes = new Map<string, number>();
  let lowercase = false;
  for (const [password, count] of Object.entries(options.breached ?? {})) hashes.set(sha1Hex(password), count);

  const server = createServer((req, res) => {
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value;
    const path = req.url ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers });

    const failure = failures.shift();
    if (failure?.kind === 'hang') return;
    if (failure?.kind === 'stall-body') {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`${randomBytes(18).toString('hex').slice(0, 35).toUpperCase()}:0\r\n`);
      return;
    }
    if (failure?.kind === 'status') {
      res.writeHead(failure.status, { 'content-type': 'text/plain' }).end(`Error ${failure.status}`);
      return;
    }
    if (failure?.kind === 'rate-limit') {
      res
        .writeHead(429, { 'content-type': 'application/json', 'retry-after': String(failure.retryAfterSeconds) })
        .end(JSON.stringify({ statusCode: 429, message: `Rate limit is exceeded. Try again in ${failure.retryAfterSeconds} seconds.` }));
      return;
    }
    if (failure?.kind === 'garbage') {
      res.writeHead(200, { 'content-type': 'text/html' }).end(failure.body ?? '<html><body><h1>Service temporarily unavailable</h1></body></html>');
      return;
    }

    const match = /^\/range\/([0-9A-Fa-f]{5})$/.exec(path);
    if (req.method !== 'GET' || !match) {
      res.writeHead(400, { 'content-type': 'text/plain' }).end('The hash prefix was not in a valid format');
      return;
    }
    const prefix = match[1]!.toUpperCase();
    const rows = new Map<string, number>();
    for (const [hash, count] of hashes) if (hash.startsWith(prefix)) rows.set(hash.slice(5), count);
    if (req.headers['add-padding'] === 'true') {
      const target = randomInt(800, 1001);
      while (rows.size < target) rows.set(randomBytes(18).toString('hex').slice(0, 35).toUpperCase(), 0);
    }
    const body = [...rows.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([suffix, count]) => `${lowercase ? suffix.toLowerCase() : suffix}:${count}`)
      .join('\r\n');
    res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    baseUrl: `http://127.0.0.1:${port}`,
    requests,
    addBreached: (password, count) => void hashes.set(sha1Hex(password), count),
    addPaddingFor: (password) => void hashes.set(sha1Hex(password), 0),
    setLowercase: (value) => void (lowercase = value),
    failNext: (...next) => void failures.push(...next),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
