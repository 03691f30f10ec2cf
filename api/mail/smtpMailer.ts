/**
 * The SMTP adapter for the mail port, on nodemailer's pooled transport.
 *
 * Transport security: TLS is required unless the server is on a loopback address. With
 * smtp:// that means STARTTLS must succeed before AUTH (nodemailer's `requireTLS`); without it
 * nodemailer only upgrades when the server advertises STARTTLS, so anyone on the path who strips
 * that line from the EHLO reply would read the SMTP password and every reset link in clear text.
 * smtps:// speaks TLS from the first byte. Loopback traffic never leaves the machine, so there
 * is nobody on the path to strip or read anything, and a local relay (a sidecar or the host's
 * MTA, which does the onward TLS itself) rarely has a certificate that is valid for "localhost".
 * Only literal loopback hosts count (localhost, 127.0.0.0/8, ::1): any other name that merely
 * resolves there could resolve elsewhere tomorrow. `requireTls: false` for a remote relay is an
 * explicit choice of the operator; STARTTLS is then still used whenever the server offers it.
 *
 * What stays private: mail bodies are never logged (they carry reset tokens), so nodemailer's
 * own logging is off; error details name the SMTP host and port, the nodemailer code, the reply
 * code with its enhanced status, the command, and a masked recipient (a***@example.com) - never
 * credentials, the server's reply text (which usually echoes the full address) or the message.
 */
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import nodemailer from 'nodemailer';
import { fail, isKluisError, KluisError } from '../errors';
import type { Mailer, OutgoingMail } from './ports';

export interface SmtpMailerOptions {
  /** smtp://user:pass@host:port (STARTTLS, port 587 by default) or smtps://... (TLS from the start, port 465). */
  url: string;
  /** The sender: `noreply@example.com` or `Kluis <noreply@example.com>`. Callers cannot change it. */
  from: string;
  /** Each wait on its own: connecting, the greeting, and every silence after that. Defaults to 10 s. */
  timeoutMs?: number;
  /** Defaults to true, except for loopback hosts (see the top of this file). */
  requireTls?: boolean;
}

export interface SmtpMailer extends Mailer {
  /** Closes idle pooled connections; a delivery in progress finishes first. */
  close(): void;
}

/** Where and how to connect, as read from the URL. */
export interface SmtpSettings {
  host: string;
  port: number;
  /** TLS from the first byte (smtps://). */
  secure: boolean;
  /** STARTTLS must succeed before anything else is sent (smtp:// only). */
  requireTls: boolean;
  auth?: { user: string; pass: string };
}

const DEFAULT_TIMEOUT_MS = 10_000;
/**
 * The per-step timeouts do not bound a server that answers every step just in time, or trickles
 * its replies; a caller waiting on a password-reset request should not wait longer than three
 * timeouts in all, so each send also carries an overall deadline of that length.
 */
const DEADLINE_STEPS = 3;
const MAX_SUBJECT_LENGTH = 250;
const ATOM = "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+";
const LOCAL_PART = new RegExp(`^${ATOM}(?:\\.${ATOM})*$`);
const DOMAIN_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** C0 controls (CR and LF among them), DEL, and the Unicode line and paragraph separators. */
const LINE_BREAKING = /[\u0000-\u001f\u007f\u2028\u2029]/;

export function createSmtpMailer(options: SmtpMailerOptions): SmtpMailer {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isInteger(timeoutMs) || timeoutMs <= 0) fail('config_invalid', `SMTP mailer: timeoutMs must be a positive integer, got ${timeoutMs}`);
  const settings = smtpSettings(options.url, options.requireTls);
  const from = parseSender(options.from);
  const server = `${settings.host}:${settings.port}`;

  const transporter = nodemailer.createTransport({
    pool: true,
    // Reset mails are rare; two connections cover a burst of invitations without holding many
    // logins open at the provider, which often limits concurrent sessions per account.
    maxConnections: 2,
    // Closed politely with QUIT before the socket timeout would tear an idle connection down.
    idleTimeout: Math.max(1, Math.floor(timeoutMs / 2)),
    // One retry on a fresh connection covers a pooled connection the server dropped just as a
    // message was handed to it; more would only delay the error a user is waiting for.
    maxRequeues: 1,
    host: settings.host,
    port: settings.port,
    secure: settings.secure,
    requireTLS: settings.requireTls,
    tls: { minVersion: 'TLSv1.2' },
    auth: settings.auth,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    dnsTimeout: timeoutMs,
    // Explicitly off: nodemailer's debug log includes the message data, and with it reset tokens.
    logger: false,
    debug: false,
    transactionLog: false,
    // Kluis never attaches files or remote content; a path or URL slipping into a message must not be read.
    disableFileAccess: true,
    disableUrlAccess: true,
    maxRecipients: 1,
  });

  function mailUnavailable(error: unknown, what: string): KluisError {
    if (isKluisError(error)) return error;
    // No `cause`: nodemailer's message and the server's reply echo the full recipient address.
    return new KluisError('mail_unavailable', `${what} via ${server} failed (${describe(error, timeoutMs * DEADLINE_STEPS)})`);
  }

  return {
    async send(mail) {
      const checked = checkMail(mail);
      try {
        await transporter.sendMail({
          from,
          to: checked.to,
          // The envelope is set rather than derived from the headers, so only the checked
          // address can ever receive the message.
          envelope: { from: from.address, to: [checked.to] },
          subject: checked.subject,
          text: checked.text,
          ...(checked.html === undefined ? {} : { html: checked.html }),
          signal: AbortSignal.timeout(timeoutMs * DEADLINE_STEPS),
        });
      } catch (error) {
        throw mailUnavailable(error, `Mail to ${maskAddress(checked.to)}`);
      }
    },
    async verify() {
      try {
        await transporter.verify();
      } catch (error) {
        throw mailUnavailable(error, 'SMTP check');
      }
    },
    close() {
      transporter.close();
    },
  };
}

/** Reads the connection URL. Errors never repeat the URL, since it holds the password. */
export function smtpSettings(url: string, requireTls?: boolean): SmtpSettings {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    fail('config_invalid', 'SMTP mailer: the URL cannot be parsed (expected smtp://user:pass@host:port or smtps://...)');
  }
  if (parsed.protocol !== 'smtp:' && parsed.protocol !== 'smtps:') {
    fail('config_invalid', `SMTP mailer: the URL scheme must be smtp or smtps, got ${parsed.protocol.replace(/:$/, '')}`);
  }
  // Other parts would be silently ignored here, while nodemailer's own URL form reads options from them.
  if ((parsed.pathname !== '' && parsed.pathname !== '/') || parsed.search !== '' || parsed.hash !== '') {
    fail('config_invalid', 'SMTP mailer: the URL may only hold user, password, host and port');
  }
  // smtp: is not a special scheme, so the URL parser keeps the host as written.
  const host = parsed.hostname.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (!(isIPv6(host) || /^[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?$/.test(host))) fail('config_invalid', 'SMTP mailer: the URL has no valid host');
  const secure = parsed.protocol === 'smtps:';
  const port = parsed.port === '' ? (secure ? 465 : 587) : Number(parsed.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) fail('config_invalid', 'SMTP mailer: the URL port is out of range');

  let auth: SmtpSettings['auth'];
  if (parsed.username !== '' || parsed.password !== '') {
    if (parsed.username === '' || parsed.password === '') fail('config_invalid', 'SMTP mailer: the URL has a user without a password or the other way round');
    try {
      auth = { user: decodeURIComponent(parsed.username), pass: decodeURIComponent(parsed.password) };
    } catch {
      fail('config_invalid', 'SMTP mailer: the URL credentials are not valid percent-encoding');
    }
  }
  return { host, port, secure, requireTls: !secure && (requireTls ?? !isLoopbackHost(host)), ...(auth ? { auth } : {}) };
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet('127.0.0.0', 8, 'ipv4');
LOOPBACK.addAddress('::1', 'ipv6');

export function isLoopbackHost(host: string): boolean {
  const bare = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (bare === 'localhost') return true;
  if (isIPv4(bare)) return LOOPBACK.check(bare, 'ipv4');
  // Also covers the long forms of ::1 and IPv4-mapped addresses such as ::ffff:127.0.0.1.
  return isIPv6(bare) && LOOPBACK.check(bare, 'ipv6');
}

/** One plain address: no display name, no list, no comments, nothing a header parser could split. */
export function isSingleAddress(value: unknown): value is string {
  if (typeof value !== 'string' || value.length > 254) return false;
  const parts = value.split('@');
  if (parts.length !== 2) return false;
  const [local = '', domain = ''] = parts;
  const labels = domain.split('.');
  return local.length <= 64 && LOCAL_PART.test(local) && domain.length <= 253 && labels.length >= 2 && labels.every((label) => DOMAIN_LABEL.test(label));
}

/** `alice@example.com` -> `a***@example.com`, enough to tell recipients apart in a log. */
export function maskAddress(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address.slice(0, 1)}***@${address.slice(at + 1)}`;
}

/** Refuses anything that could add a header or a recipient, before any SMTP traffic. */
function checkMail(mail: OutgoingMail): OutgoingMail {
  if (!isSingleAddress(mail.to)) fail('request_malformed', 'Mail refused: the recipient is not one plain address');
  if (typeof mail.subject !== 'string' || mail.subject.trim() === '' || mail.subject.length > MAX_SUBJECT_LENGTH || LINE_BREAKING.test(mail.subject)) {
    fail('request_malformed', `Mail refused: the subject must be one line of 1-${MAX_SUBJECT_LENGTH} characters without control characters`);
  }
  if (typeof mail.text !== 'string' || mail.text.trim() === '') fail('request_malformed', 'Mail refused: the text body is empty');
  if (mail.html !== undefined && typeof mail.html !== 'string') fail('request_malformed', 'Mail refused: the HTML body is not a string');
  return mail;
}

/** `noreply@example.com` or `Name <noreply@example.com>`, checked once at start-up. */
function parseSender(value: string): { name: string; address: string } {
  if (LINE_BREAKING.test(value)) fail('config_invalid', 'SMTP mailer: the sender contains a line break or another control character');
  const match = /^\s*(?:"?([^"<>]*?)"?\s*)?<([^<>]*)>\s*$/.exec(value);
  const name = (match?.[1] ?? '').trim();
  const address = match ? (match[2] ?? '') : value.trim();
  if (!isSingleAddress(address)) fail('config_invalid', 'SMTP mailer: the sender is not one plain address (or Name <address>)');
  return { name, address };
}

/** The facts of a nodemailer error that are safe to log. */
function describe(error: unknown, deadlineMs: number): string {
  // Duck-typed rather than instanceof Error: socket errors can come from another realm (a VM context).
  if (typeof error !== 'object' || error === null) return 'unexpected failure';
  const e = error as { name?: unknown; code?: unknown; responseCode?: unknown; command?: unknown; response?: unknown; permanent?: unknown; originalCode?: unknown; timeoutType?: unknown };
  if (e.code === 'EABORT') return `EABORT, not finished within ${deadlineMs} ms`;
  const code = typeof e.code === 'string' && /^[A-Z0-9_]+$/.test(e.code) ? e.code : undefined;
  const facts: string[] = [code ?? (typeof e.name === 'string' && /^\w+$/.test(e.name) ? e.name : 'unexpected failure')];
  if (typeof e.originalCode === 'string' && /^[A-Z0-9_]+$/.test(e.originalCode)) facts.push(e.originalCode);
  if (typeof e.timeoutType === 'string' && /^[A-Z_]+$/.test(e.timeoutType)) facts.push(e.timeoutType);
  if (typeof e.responseCode === 'number') {
    // The enhanced status code (RFC 3463) says why without repeating the address, unlike the reply text.
    const enhanced = typeof e.response === 'string' ? /^\d{3}[ -]([245]\.\d{1,3}\.\d{1,3})\b/.exec(e.response)?.[1] : undefined;
    facts.push(`reply ${e.responseCode}${enhanced ? ` ${enhanced}` : ''}`);
  }
  // Only a bare verb such as "RCPT TO" or "AUTH PLAIN": anything longer might carry an address.
  if (typeof e.command === 'string' && /^[A-Z]+(?: [A-Z]+)?$/.test(e.command)) facts.push(`at ${e.command}`);
  if (typeof e.permanent === 'boolean') facts.push(e.permanent ? 'permanent' : 'transient');
  return facts.join(', ');
}
