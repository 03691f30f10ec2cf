import { isKluisError } from '../errors';
import { escapeHtml, passwordResetMail, type PasswordResetMailInput } from './messages';

const URL_WITH_TOKEN = 'https://kluis.example.com/reset?token=tok_3f9a1c77e2b04d5e';

function input(overrides: Partial<PasswordResetMailInput> = {}): PasswordResetMailInput {
  return { to: 'alice@example.com', resetUrl: URL_WITH_TOKEN, language: 'en', expiresInMinutes: 30, ...overrides };
}

function refusal(build: () => unknown): unknown {
  try {
    build();
  } catch (error) {
    return error;
  }
  throw new Error('expected the builder to refuse');
}

describe('passwordResetMail', () => {
  it('writes an English mail with the link, the expiry and the note that it can be ignored', () => {
    const mail = passwordResetMail(input());

    expect(mail.to).toBe('alice@example.com');
    expect(mail.subject).toBe('Reset your Kluis password');
    expect(mail.text).toContain(`\n\n${URL_WITH_TOKEN}\n\n`);
    expect(mail.text).toContain('The link is valid for 30 minutes.');
    expect(mail.text).toContain('you can ignore this email; your password stays the same');
    expect(mail.html).toContain('<html lang="en">');
    expect(mail.html).toContain('<title>Reset your Kluis password</title>');
    expect(mail.html).toContain(`<a href="${URL_WITH_TOKEN}"`);
    expect(mail.html).toContain('>Choose a new password</a>');
    expect(mail.html).toContain('you can ignore this email');
  });

  it('writes a Dutch mail', () => {
    const mail = passwordResetMail(input({ language: 'nl', expiresInMinutes: 60 }));

    expect(mail.subject).toBe('Je Kluis-wachtwoord opnieuw instellen');
    expect(mail.text).toContain('De link is 60 minuten geldig.');
    expect(mail.text).toContain('Dan kun je deze e-mail negeren; je wachtwoord blijft ongewijzigd.');
    expect(mail.text).toContain(URL_WITH_TOKEN);
    expect(mail.html).toContain('<html lang="nl">');
    expect(mail.html).toContain('>Kies een nieuw wachtwoord</a>');
    expect(mail.html).not.toMatch(/Choose|ignore this email/);
  });

  it('uses the singular for one minute', () => {
    expect(passwordResetMail(input({ expiresInMinutes: 1 })).text).toContain('valid for 1 minute.');
    expect(passwordResetMail(input({ language: 'nl', expiresInMinutes: 1 })).text).toContain('De link is 1 minuut geldig.');
  });

  it('escapes the link in the HTML body, in the attribute and in the visible text', () => {
    // The URL parser percent-encodes quotes and angle brackets in a query, but not & anywhere
    // nor an apostrophe in a path: those are left for the HTML escaping.
    const mail = passwordResetMail(input({ resetUrl: `https://kluis.example.com/o'neil/reset?token=a&next="><script>alert(1)</script>` }));
    const html = mail.html ?? '';

    expect(html).not.toContain('<script');
    expect(html).not.toContain("o'neil");
    const escaped = 'https://kluis.example.com/o&#39;neil/reset?token=a&amp;next=%22%3E%3Cscript%3Ealert(1)%3C/script%3E';
    expect(html).toContain(`<a href="${escaped}" `);
    expect(html).toContain(`<span style="word-break:break-all;">${escaped}</span>`);
    // The text body is not HTML: it carries the link as the parser wrote it.
    expect(mail.text).toContain("https://kluis.example.com/o'neil/reset?token=a&next=%22%3E%3Cscript%3Ealert(1)%3C/script%3E");
  });

  it('escapes the five characters that matter in HTML', () => {
    expect(escapeHtml(`<a href="x" title='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;');
  });

  it('drops line breaks hidden in the link, so it cannot split the text body', () => {
    const mail = passwordResetMail(input({ resetUrl: 'https://kluis.example.com/re\r\nset?token=abc' }));
    expect(mail.text).toContain('https://kluis.example.com/reset?token=abc');
  });

  it('accepts plain http only on localhost and 127.0.0.1', () => {
    expect(passwordResetMail(input({ resetUrl: 'http://localhost:3978/reset?token=x' })).text).toContain('http://localhost:3978/reset?token=x');
    expect(passwordResetMail(input({ resetUrl: 'http://127.0.0.1:8080/reset?token=x' })).text).toContain('http://127.0.0.1:8080/reset?token=x');
  });

  it.each([
    ['a javascript: link', 'javascript:alert(document.cookie)//tok_secret'],
    ['a javascript: link in capitals', 'JAVASCRIPT:alert(1)//tok_secret'],
    ['a data: link', 'data:text/html,<script>alert(1)</script>tok_secret'],
    ['plain http to another host', 'http://kluis.example.com/reset?token=tok_secret'],
    ['plain http to a look-alike of localhost', 'http://localhost.evil.test/reset?token=tok_secret'],
    ['another scheme', 'ftp://kluis.example.com/reset?token=tok_secret'],
    ['a user name in the link', 'https://kluis.example.com@evil.test/reset?token=tok_secret'],
    ['something that is not a URL', '/reset?token=tok_secret'],
  ])('refuses %s without repeating it', (_what, resetUrl) => {
    const error = refusal(() => passwordResetMail(input({ resetUrl })));
    expect(isKluisError(error, 'request_malformed')).toBe(true);
    expect(String(error)).not.toContain('tok_secret');
  });

  it.each([0, -5, 1.5, Number.NaN])('refuses %p minutes', (expiresInMinutes) => {
    expect(isKluisError(refusal(() => passwordResetMail(input({ expiresInMinutes }))), 'request_malformed')).toBe(true);
  });

  it('refuses a language it has no text for', () => {
    const error = refusal(() => passwordResetMail(input({ language: 'de' as never })));
    expect(isKluisError(error, 'request_malformed')).toBe(true);
  });
});
