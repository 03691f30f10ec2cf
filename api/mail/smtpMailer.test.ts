/**
 * The SMTP adapter against a real SMTP server on 127.0.0.1 (smtp-server), so nodemailer does the
 * AUTH, the pooling, the timeouts and the error codes. Timeouts are kept short (a second at most).
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { isKluisError } from '../errors';
import { startFakeSmtp, type FakeSmtp } from '../../tests/fakes/smtpServer';
import { createSmtpMailer, isLoopbackHost, isSingleAddress, maskAddress, smtpSettings, type SmtpMailer, type SmtpMailerOptions } from './smtpMailer';
import type { OutgoingMail } from './ports';
import { kluisRejection, everythingSaidAbout } from '../../tests/support/errors';

const FROM = 'Kluis <noreply@kluis.test>';
const TOKEN = 'tok_3f9a1c77e2b04d5e';

function resetMail(overrides: Partial<OutgoingMail> = {}): OutgoingMail {
  return {
    to: 'alice@example.com',
    subject: 'Reset your Kluis password',
    text: `Open https://kluis.test/reset?token=${TOKEN} to choose a new password.`,
    html: `<p><a href="https://kluis.test/reset?token=${TOKEN}">Choose a new password</a></p>`,
    ...overrides,
  };
}

/** A port on 127.0.0.1 that nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('smtpSettings', () => {
  it('reads host, port and percent-encoded credentials, with the usual default ports', () => {
    expect(smtpSettings('smtp://us%40er:p%3Aw%2Fd@Mail.Example.com:2525')).toEqual({
      host: 'mail.example.com',
      port: 2525,
      secure: false,
      requireTls: true,
      auth: { user: 'us@er', pass: 'p:w/d' },
    });
    expect(smtpSettings('smtp://mail.example.com')).toMatchObject({ port: 587, secure: false });
    expect(smtpSettings('smtps://u:p@mail.example.com')).toMatchObject({ port: 465, secure: true, requireTls: false });
    expect(smtpSettings('smtp://relay.internal:25').auth).toBeUndefined();
  });

  it('requires STARTTLS for every host but a literal loopback one, unless told otherwise', () => {
    expect(smtpSettings('smtp://mail.example.com').requireTls).toBe(true);
    expect(smtpSettings('smtp://10.0.0.5').requireTls).toBe(true);
    // A name that resolves to loopback today is still a name: it counts as remote.
    expect(smtpSettings('smtp://localhost.example.com').requireTls).toBe(true);
    expect(smtpSettings('smtp://127.0.0.1:2525').requireTls).toBe(false);
    expect(smtpSettings('smtp://localhost:25').requireTls).toBe(false);
    expect(smtpSettings('smtp://[::1]:25')).toMatchObject({ host: '::1', requireTls: false });
    expect(smtpSettings('smtp://127.0.0.1:2525', true).requireTls).toBe(true);
    expect(smtpSettings('smtp://relay.internal', false).requireTls).toBe(false);
  });

  it.each([
    ['not a URL', 'mail.example.com:587'],
    ['another scheme', 'https://u:secret-pw@mail.example.com'],
    ['query options', 'smtp://u:secret-pw@mail.example.com?tls.rejectUnauthorized=false'],
    ['a path', 'smtp://u:secret-pw@mail.example.com/x'],
    ['a user without a password', 'smtp://u@mail.example.com'],
    ['no host', 'smtp://u:secret-pw@:25'],
  ])('refuses %s as config_invalid without repeating the password', (_what, url) => {
    let error: unknown;
    try {
      smtpSettings(url);
    } catch (caught) {
      error = caught;
    }
    expect(isKluisError(error, 'config_invalid')).toBe(true);
    expect(everythingSaidAbout(error)).not.toContain('secret-pw');
  });

  it('knows the loopback hosts', () => {
    for (const host of ['localhost', 'LOCALHOST', '127.0.0.1', '127.8.9.10', '::1', '[::1]', '0:0:0:0:0:0:0:1', '::ffff:127.0.0.1']) {
      expect([host, isLoopbackHost(host)]).toEqual([host, true]);
    }
    for (const host of ['128.0.0.1', '10.0.0.1', '::2', 'localhost.example.com', 'mail.example.com']) {
      expect([host, isLoopbackHost(host)]).toEqual([host, false]);
    }
  });
});

describe('addresses', () => {
  it('accepts one plain address and nothing else', () => {
    expect(isSingleAddress('alice@example.com')).toBe(true);
    expect(isSingleAddress("o'neil+kluis@mail.example.co.uk")).toBe(true);
    for (const value of [
      'alice@example.com\r\nBcc: mallory@evil.test',
      'alice@example.com\nBcc: mallory@evil.test',
      'alice@example.com, mallory@evil.test',
      'alice@example.com;mallory@evil.test',
      'alice@example.com mallory@evil.test',
      'Alice <alice@example.com>',
      '"alice@example.com" <mallory@evil.test>',
      'alice@example.com (comment)',
      'alice@@example.com',
      'alice@localhost',
      '@example.com',
      'alice@',
      '',
      `${'a'.repeat(65)}@example.com`,
    ]) {
      expect([value, isSingleAddress(value)]).toEqual([value, false]);
    }
  });

  it('masks all but the first letter of the local part', () => {
    expect(maskAddress('alice@example.com')).toBe('a***@example.com');
    expect(maskAddress('x@example.com')).toBe('x***@example.com');
    expect(maskAddress('nonsense')).toBe('***');
  });
});

describe('SMTP mailer over real SMTP', () => {
  let fake: FakeSmtp;
  const mailers: SmtpMailer[] = [];
  const rawServers: Server[] = [];

  function mailer(overrides: Partial<SmtpMailerOptions> = {}): SmtpMailer {
    const created = createSmtpMailer({ url: fake.url, from: FROM, timeoutMs: 1000, ...overrides });
    mailers.push(created);
    return created;
  }

  beforeEach(async () => {
    fake = await startFakeSmtp();
  });

  afterEach(async () => {
    for (const m of mailers.splice(0)) m.close();
    for (const s of rawServers.splice(0)) await new Promise<void>((resolve) => s.close(() => resolve()));
    await fake.close();
  });

  it('delivers a mail with the configured sender, the recipient, the subject and both bodies', async () => {
    const subject = 'Wachtwoord opnieuw instellen – Kluis';
    await mailer().send(resetMail({ subject, text: `Hallo,\n\nKies een nieuw wachtwoord: https://kluis.test/r?t=${TOKEN}\n` }));

    expect(fake.received).toHaveLength(1);
    const mail = fake.received[0]!;
    expect(mail.envelope).toEqual({ from: 'noreply@kluis.test', to: ['alice@example.com'] });
    expect(mail.from).toBe('Kluis <noreply@kluis.test>');
    expect(mail.to).toBe('alice@example.com');
    expect(mail.subject).toBe(subject);
    expect(mail.text).toBe(`Hallo,\n\nKies een nieuw wachtwoord: https://kluis.test/r?t=${TOKEN}\n`);
    expect(mail.html).toBe(`<p><a href="https://kluis.test/reset?token=${TOKEN}">Choose a new password</a></p>`);
    expect(mail.auth).toEqual({ user: fake.user, method: 'PLAIN' });
    // Exactly one To header and no Cc/Bcc: the recipient is the only one there is.
    expect(mail.headers.filter(([name]) => ['to', 'cc', 'bcc'].includes(name))).toEqual([['to', 'alice@example.com']]);
  });

  it('sends a text-only mail when there is no HTML body', async () => {
    await mailer().send({ to: 'bob@example.com', subject: 'Plain', text: 'Only text.' });
    expect(fake.received[0]).toMatchObject({ to: 'bob@example.com', subject: 'Plain', text: 'Only text.' });
    expect(fake.received[0]!.html).toBeUndefined();
  });

  it('authenticates with LOGIN when the server offers nothing else', async () => {
    await fake.close();
    fake = await startFakeSmtp({ authMethods: ['LOGIN'] });
    await mailer().send(resetMail());
    expect(fake.received[0]!.auth).toEqual({ user: fake.user, method: 'LOGIN' });
  });

  it('reuses one pooled connection for mails sent one after the other', async () => {
    const m = mailer();
    await m.send(resetMail({ to: 'one@example.com' }));
    await m.send(resetMail({ to: 'two@example.com' }));
    expect(fake.received.map((r) => r.to)).toEqual(['one@example.com', 'two@example.com']);
    expect(fake.connections).toBe(1);
    expect(fake.authAttempts).toHaveLength(1);
  });

  it('maps wrong credentials to mail_unavailable without the password anywhere', async () => {
    const wrong = `smtp://${fake.user}:not-the-password@127.0.0.1:${fake.port}`;
    const error = await kluisRejection(mailer({ url: wrong }).send(resetMail()));

    expect(error.id).toBe('mail_unavailable');
    expect(error.status).toBe(503);
    expect(error.message).toContain('EAUTH');
    expect(error.message).toContain('reply 535');
    expect(error.message).toContain('a***@example.com');
    const said = everythingSaidAbout(error);
    for (const secret of ['not-the-password', fake.pass, 'alice@example.com', TOKEN]) expect(said).not.toContain(secret);
    expect(fake.authAttempts).toEqual([{ method: 'PLAIN', user: fake.user, accepted: false }]);
    expect(fake.received).toHaveLength(0);
  });

  it('maps a refused recipient (550) to mail_unavailable with the address masked', async () => {
    fake.enqueue({ kind: 'reject-rcpt', code: 550, message: '5.1.1 <alice@example.com>: Recipient address rejected: User unknown' });
    const error = await kluisRejection(mailer().send(resetMail()));

    expect(error.id).toBe('mail_unavailable');
    expect(error.message).toContain('a***@example.com');
    expect(error.message).toContain('reply 550 5.1.1');
    expect(error.message).toContain('permanent');
    const said = everythingSaidAbout(error);
    for (const secret of ['alice@example.com', fake.pass, TOKEN]) expect(said).not.toContain(secret);
    expect(fake.received).toHaveLength(0);
  });

  it('maps a refused message (451 after DATA) to mail_unavailable, keeps the body out, and recovers', async () => {
    fake.enqueue({ kind: 'reject-data' });
    const m = mailer();
    const error = await kluisRejection(m.send(resetMail()));

    expect(error.id).toBe('mail_unavailable');
    expect(error.message).toMatch(/EMESSAGE.*reply 451.*transient/);
    const said = everythingSaidAbout(error);
    for (const secret of [TOKEN, 'Choose a new password', 'alice@example.com', fake.pass]) expect(said).not.toContain(secret);

    // The refusal was for that message only; the next one goes through.
    await m.send(resetMail({ to: 'bob@example.com' }));
    expect(fake.received.map((r) => r.to)).toEqual(['bob@example.com']);
  });

  it('maps a connection the server keeps dropping mid-DATA to mail_unavailable', async () => {
    fake.setDefault({ kind: 'close' });
    const error = await kluisRejection(mailer().send(resetMail()));
    expect(error.id).toBe('mail_unavailable');
    expect(error.message).toContain('ECONNECTION');
    expect(fake.received).toHaveLength(0);
    // Bytes of the message were sent, so it is not silently re-sent: the server might have kept it.
    expect(fake.transactions).toHaveLength(1);
  });

  it('recovers on a fresh connection after the server dropped one mid-transaction', async () => {
    fake.enqueue({ kind: 'close', at: 'rcpt' });
    const m = mailer();
    const error = await kluisRejection(m.send(resetMail()));
    expect(error.message).toContain('ECONNECTION');

    await m.send(resetMail({ to: 'bob@example.com' }));
    expect(fake.received.map((r) => r.to)).toEqual(['bob@example.com']);
    expect(fake.connections).toBe(2);
  });

  it('re-sends on a fresh connection when a reused one drops before any of the message went out', async () => {
    const m = mailer();
    await m.send(resetMail({ to: 'one@example.com' }));
    // The pooled connection dies at the next MAIL FROM, as when the server timed it out meanwhile.
    fake.enqueue({ kind: 'close', at: 'mail' });
    await m.send(resetMail({ to: 'two@example.com' }));

    expect(fake.received.map((r) => r.to)).toEqual(['one@example.com', 'two@example.com']);
    expect(fake.connections).toBe(2);
    expect(fake.transactions).toHaveLength(3);
  });

  it('fails with mail_unavailable at once when nothing listens on the port', async () => {
    const port = await closedPort();
    const m = mailer({ url: `smtp://u:secret-pw@127.0.0.1:${port}`, timeoutMs: 1000 });
    const started = Date.now();
    const error = await kluisRejection(m.send(resetMail()));

    expect(Date.now() - started).toBeLessThan(1000);
    expect(error.id).toBe('mail_unavailable');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(everythingSaidAbout(error)).not.toContain('secret-pw');
  });

  it('gives up within the timeout when a server accepts the connection but never greets', async () => {
    const sockets: Socket[] = [];
    const silent = createServer((socket) => sockets.push(socket));
    silent.on('close', () => sockets.forEach((s) => s.destroy()));
    rawServers.push(silent);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    const m = mailer({ url: `smtp://u:p@127.0.0.1:${port}`, timeoutMs: 300 });

    const started = Date.now();
    const error = await kluisRejection(m.send(resetMail()));
    const elapsed = Date.now() - started;
    sockets.forEach((s) => s.destroy());

    expect(error.id).toBe('mail_unavailable');
    // Greeting and socket timeouts share the value; whichever fires first is reported.
    expect(error.message).toMatch(/ETIMEDOUT, (GREETING|SOCKET)_TIMEOUT/);
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(1500);
  });

  it('stops a delivery that a slow server drags past three timeouts, though no single wait timed out', async () => {
    // Every reply comes after 150 ms, under the 200 ms timeout; six of them take 900 ms.
    const slow = createServer((socket) => {
      socket.on('error', () => undefined);
      const reply = (line: string) => setTimeout(() => socket.writable && socket.write(`${line}\r\n`), 150);
      let inData = false;
      reply('220 slow.test ESMTP');
      socket.setEncoding('utf8');
      socket.on('data', (chunk: string) => {
        for (const line of chunk.split('\r\n').filter(Boolean)) {
          if (inData) {
            if (line !== '.') continue;
            inData = false;
            reply('250 queued');
          } else if (/^EHLO/i.test(line)) {
            reply('250 slow.test');
          } else if (/^DATA/i.test(line)) {
            inData = true;
            reply('354 go ahead');
          } else if (/^QUIT/i.test(line)) {
            socket.end('221 bye\r\n');
          } else {
            reply('250 ok');
          }
        }
      });
    });
    rawServers.push(slow);
    await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve));
    const { port } = slow.address() as AddressInfo;

    const started = Date.now();
    const error = await kluisRejection(mailer({ url: `smtp://127.0.0.1:${port}`, timeoutMs: 200 }).send(resetMail()));
    const elapsed = Date.now() - started;

    expect(error.id).toBe('mail_unavailable');
    expect(error.message).toContain('EABORT, not finished within 600 ms');
    expect(elapsed).toBeGreaterThanOrEqual(550);
    expect(elapsed).toBeLessThan(850);
  });

  it.each([
    ['a CRLF header in the recipient', { to: 'alice@example.com\r\nBcc: mallory@evil.test' }],
    ['an LF header in the recipient', { to: 'alice@example.com\nBcc: mallory@evil.test' }],
    ['two recipients', { to: 'alice@example.com, mallory@evil.test' }],
    ['two recipients with a semicolon', { to: 'alice@example.com;mallory@evil.test' }],
    ['a display name hiding another address', { to: '"alice@example.com" <mallory@evil.test>' }],
    ['a CRLF header in the subject', { subject: 'Reset\r\nBcc: mallory@evil.test' }],
    ['an LF in the subject', { subject: 'Reset\nBcc: mallory@evil.test' }],
    ['a lone CR in the subject', { subject: 'Reset\rBcc: mallory@evil.test' }],
    ['an empty subject', { subject: ' ' }],
    ['an empty body', { text: '' }],
  ])('refuses %s with request_malformed before any SMTP traffic', async (_what, overrides) => {
    const error = await kluisRejection(mailer().send(resetMail(overrides)));
    expect(error.id).toBe('request_malformed');
    expect(error.message).not.toContain('mallory');
    expect(fake.connections).toBe(0);
    expect(fake.transactions).toHaveLength(0);
    expect(fake.received).toHaveLength(0);
  });

  it('refuses to authenticate in clear text when TLS is required and the server offers none', async () => {
    const error = await kluisRejection(mailer({ requireTls: true }).send(resetMail()));
    expect(error.id).toBe('mail_unavailable');
    expect(error.message).toContain('ETLS');
    // The password never went over the wire.
    expect(fake.authAttempts).toHaveLength(0);
    expect(fake.received).toHaveLength(0);
  });

  it('verifies the connection and the login', async () => {
    await expect(mailer().verify()).resolves.toBeUndefined();
    expect(fake.authAttempts).toEqual([{ method: 'PLAIN', user: fake.user, accepted: true }]);
    expect(fake.transactions).toHaveLength(0);
  });

  it('reports a failed verification as mail_unavailable', async () => {
    const wrong = await kluisRejection(mailer({ url: `smtp://${fake.user}:wrong-pw@127.0.0.1:${fake.port}` }).verify());
    expect(wrong.id).toBe('mail_unavailable');
    expect(wrong.message).toMatch(/^SMTP check via 127\.0\.0\.1:\d+ failed \(EAUTH, reply 535/);
    expect(everythingSaidAbout(wrong)).not.toContain('wrong-pw');

    const port = await closedPort();
    const unreachable = await kluisRejection(mailer({ url: `smtp://u:p@127.0.0.1:${port}` }).verify());
    expect(unreachable.id).toBe('mail_unavailable');
    expect(unreachable.message).toContain('ECONNREFUSED');
  });

  it('refuses a sender that is not one address, and a bad timeout, at creation', () => {
    for (const from of ['', 'noreply@kluis.test, other@kluis.test', 'Kluis <noreply@kluis.test>\r\nBcc: x@evil.test', 'Kluis\r\n <noreply@kluis.test>']) {
      expect(() => createSmtpMailer({ url: fake.url, from })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
    }
    expect(() => createSmtpMailer({ url: fake.url, from: FROM, timeoutMs: 0 })).toThrow(expect.objectContaining({ id: 'config_invalid' }));
  });
});
