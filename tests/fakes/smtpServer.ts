/**
 * A real SMTP server for tests (smtp-server), so nodemailer's pool, AUTH, timeouts and error
 * codes run exactly as they would against a mail provider.
 *
 * Loopback only and without TLS: STARTTLS is disabled and AUTH PLAIN/LOGIN is allowed in clear
 * text, which is acceptable on 127.0.0.1 and nowhere else. Received messages are kept whole
 * (`raw`) and parsed by a small MIME reader that understands what nodemailer writes: folded
 * headers, RFC 2047 encoded words, multipart/alternative, quoted-printable and base64 parts.
 *
 * Failures are scripted per mail transaction (one MAIL FROM ... DATA round) with `enqueue`;
 * when the queue is empty the default (none, unless `setDefault` says otherwise) applies.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { SMTPServer, type SMTPServerAuthentication, type SMTPServerSession } from 'smtp-server';

export type SmtpFailure =
  /** Refuse the recipient: 550 unless another code is given. */
  | { kind: 'reject-rcpt'; code?: number; message?: string }
  /** Take the whole message, then refuse it: 451 unless another code is given. */
  | { kind: 'reject-data'; code?: number; message?: string }
  /** Drop the connection without a reply, at MAIL FROM, RCPT TO or once DATA has begun (the default). */
  | { kind: 'close'; at?: 'mail' | 'rcpt' | 'data' };

export interface ReceivedMail {
  envelope: { from: string; to: string[] };
  /** The account that authenticated and the mechanism it used; undefined without AUTH. */
  auth?: { user: string; method: string };
  /** The message as the client sent it, CRLF line ends and all. */
  raw: string;
  /** Lower-case header names, values unfolded and decoded; repeated headers keep every value. */
  headers: Array<[string, string]>;
  subject: string;
  from: string;
  to: string;
  /**
   * The text/plain part, decoded, with LF line ends. In a single-part message the final line end
   * cannot be told apart from the one the client adds before the closing dot, so it is dropped.
   */
  text: string;
  /** The text/html part, decoded, with LF line ends; undefined when there is none. */
  html?: string;
}

export interface AuthAttempt {
  method: string;
  user: string;
  accepted: boolean;
}

export interface FakeSmtp {
  host: string;
  port: number;
  user: string;
  pass: string;
  /** smtp://user:pass@127.0.0.1:port with the credentials percent-encoded. */
  url: string;
  received: ReceivedMail[];
  authAttempts: AuthAttempt[];
  /** Sessions the server accepted, whether or not a mail followed. */
  readonly connections: number;
  /** Envelopes of every MAIL FROM the server saw, accepted or not. */
  transactions: Array<{ from: string }>;
  enqueue(...failures: SmtpFailure[]): void;
  setDefault(failure: SmtpFailure | undefined): void;
  close(): Promise<void>;
}

export interface FakeSmtpOptions {
  user?: string;
  pass?: string;
  /** Mechanisms offered in EHLO; PLAIN and LOGIN by default. */
  authMethods?: Array<'PLAIN' | 'LOGIN'>;
}

const HOST = '127.0.0.1';

function smtpError(code: number, message: string): Error & { responseCode: number } {
  return Object.assign(new Error(message), { responseCode: code });
}

export async function startFakeSmtp(options: FakeSmtpOptions = {}): Promise<FakeSmtp> {
  const user = options.user ?? 'kluis-test';
  const pass = options.pass ?? `pw-${randomBytes(12).toString('hex')}`;
  const received: ReceivedMail[] = [];
  const authAttempts: AuthAttempt[] = [];
  const transactions: Array<{ from: string }> = [];
  const queue: SmtpFailure[] = [];
  let fallback: SmtpFailure | undefined;
  let connections = 0;
  /** The failure chosen for the transaction in progress, per session. */
  const current = new Map<string, SmtpFailure | undefined>();

  const drop = (session: SMTPServerSession): void => {
    for (const connection of server.connections) {
      if (connection.id === session.id) connection._socket.destroy();
    }
  };

  const server: SMTPServer = new SMTPServer({
    secure: false,
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    authMethods: options.authMethods ?? ['PLAIN', 'LOGIN'],
    authOptional: false,
    disableReverseLookup: true,
    logger: false,
    // Pooled clients may still be connected when a test ends; do not keep the suite waiting.
    closeTimeout: 100,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onAuth(auth: SMTPServerAuthentication, _session, callback) {
      const accepted = (auth.method === 'PLAIN' || auth.method === 'LOGIN') && auth.username === user && auth.password === pass;
      authAttempts.push({ method: auth.method, user: auth.username ?? '', accepted });
      if (!accepted) return callback(smtpError(535, 'Authentication credentials invalid'));
      callback(null, { user: { user, method: auth.method } });
    },
    onMailFrom(address, session, callback) {
      transactions.push({ from: address.address });
      const failure = queue.length > 0 ? queue.shift() : fallback;
      current.set(session.id, failure);
      if (failure?.kind === 'close' && failure.at === 'mail') return drop(session);
      callback();
    },
    onRcptTo(_address, session, callback) {
      const failure = current.get(session.id);
      if (failure?.kind === 'close' && failure.at === 'rcpt') return drop(session);
      if (failure?.kind === 'reject-rcpt') return callback(smtpError(failure.code ?? 550, failure.message ?? 'No such user here'));
      callback();
    },
    onData(stream, session, callback) {
      const failure = current.get(session.id);
      current.delete(session.id);
      if (failure?.kind === 'close' && (failure.at ?? 'data') === 'data') {
        stream.resume();
        return drop(session);
      }
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (failure?.kind === 'reject-data') return callback(smtpError(failure.code ?? 451, failure.message ?? 'Requested action aborted: local error in processing'));
        const raw = Buffer.concat(chunks).toString('utf8');
        const envelope = {
          from: session.envelope.mailFrom === false ? '' : session.envelope.mailFrom.address,
          to: session.envelope.rcptTo.map((r) => r.address),
        };
        received.push({ envelope, auth: session.user as ReceivedMail['auth'], raw, ...parseMessage(raw) });
        callback(null, `Message queued as fake-${received.length}`);
      });
    },
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, HOST, () => {
      server.off('error', reject);
      resolve();
    });
  });
  // A client that misbehaves must fail its test, not crash the runner.
  server.on('error', () => undefined);
  const port = (server.server.address() as AddressInfo).port;

  return {
    host: HOST,
    port,
    user,
    pass,
    url: `smtp://${encodeURIComponent(user)}:${encodeURIComponent(pass)}@${HOST}:${port}`,
    received,
    authAttempts,
    transactions,
    get connections() {
      return connections;
    },
    enqueue(...failures) {
      queue.push(...failures);
    },
    setDefault(failure) {
      fallback = failure;
    },
    close() {
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

interface ParsedPart {
  headers: Array<[string, string]>;
  subject: string;
  from: string;
  to: string;
  text: string;
  html?: string;
}

/** Reads a message the way a mail client would, for the parts a test asserts on. */
export function parseMessage(raw: string): ParsedPart {
  const entity = splitEntity(raw);
  const headers = entity.headers;
  // The last line end of the message belongs to the DATA terminator (CRLF.CRLF), not to the body.
  const body = entity.body.replace(/\r\n$/, '');
  const header = (name: string) => headers.find(([key]) => key === name)?.[1] ?? '';
  const bodies: { text?: string; html?: string } = {};
  collectBodies(headers, body, bodies);
  return {
    headers,
    subject: header('subject'),
    from: header('from'),
    to: header('to'),
    text: bodies.text ?? '',
    ...(bodies.html === undefined ? {} : { html: bodies.html }),
  };
}

function splitEntity(entity: string): { headers: Array<[string, string]>; body: string } {
  const end = entity.search(/\r?\n\r?\n/);
  const head = end === -1 ? entity : entity.slice(0, end);
  const body = end === -1 ? '' : entity.slice(end).replace(/^\r?\n\r?\n/, '');
  const headers: Array<[string, string]> = [];
  for (const line of head.replace(/\r?\n[ \t]+/g, ' ').split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.push([line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim())]);
  }
  return { headers, body };
}

function collectBodies(headers: Array<[string, string]>, body: string, into: { text?: string; html?: string }): void {
  const contentType = headers.find(([key]) => key === 'content-type')?.[1] ?? 'text/plain';
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  if (type.startsWith('multipart/')) {
    const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
    if (!boundary) return;
    const sections = body.split(`--${boundary}`);
    // Before the first delimiter is the preamble; from the closing "--boundary--" on, the epilogue.
    for (const section of sections.slice(1)) {
      if (section.startsWith('--')) break;
      const part = splitEntity(section.replace(/^\r?\n/, '').replace(/\r?\n$/, ''));
      collectBodies(part.headers, part.body, into);
    }
    return;
  }
  const encoding = (headers.find(([key]) => key === 'content-transfer-encoding')?.[1] ?? '7bit').toLowerCase();
  const decoded = decodeBody(body, encoding).replace(/\r\n/g, '\n');
  if (type === 'text/plain' && into.text === undefined) into.text = decoded;
  if (type === 'text/html' && into.html === undefined) into.html = decoded;
}

function decodeBody(body: string, encoding: string): string {
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  if (encoding === 'quoted-printable') return qpBytes(body.replace(/=\r?\n/g, '')).toString('utf8');
  return body;
}

/** =XX escapes to bytes; everything else is ASCII by the rules of the encoding. */
function qpBytes(text: string): Buffer {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === '=' && /^[0-9A-Fa-f]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(text.charCodeAt(i) & 0xff);
    }
  }
  return Buffer.from(bytes);
}

/** RFC 2047 encoded words (UTF-8 only, which is all nodemailer writes); whitespace between two of them is dropped. */
function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[BbQq]\?[^?]*\?=)\s+(?==\?)/g, '$1')
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_match, _charset: string, kind: string, text: string) =>
      kind.toUpperCase() === 'B' ? Buffer.from(text, 'base64').toString('utf8') : qpBytes(text.replace(/_/g, ' ')).toString('utf8'),
    );
}
