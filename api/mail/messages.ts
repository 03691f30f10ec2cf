/**
 * The mails Kluis sends, in Dutch and English. Each builder returns a plain-text body and a
 * simple HTML body; every value interpolated into the HTML is escaped, and links are checked so a
 * mail can never carry a javascript: or data: link, or send someone to a plain-http site.
 *
 * Error details never repeat a link: reset links carry a token that grants the account.
 */
import { fail } from '../errors';
import type { OutgoingMail } from './ports';

export type MailLanguage = 'nl' | 'en';

export interface PasswordResetMailInput {
  /** Checked by the mailer: one plain address. */
  to: string;
  /** https, or http on localhost / 127.0.0.1 for local development. */
  resetUrl: string;
  language: MailLanguage;
  expiresInMinutes: number;
}

const PASSWORD_RESET = {
  en: {
    subject: 'Reset your Kluis password',
    greeting: 'Hello,',
    intro: 'Someone asked to reset the password of your Kluis account. To choose a new password, open this link:',
    button: 'Choose a new password',
    fallback: 'If the button does not work, copy this link into your browser:',
    expiry: (minutes: number) => `The link is valid for ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`,
    ignore: 'Did you not ask for this? Then you can ignore this email; your password stays the same.',
  },
  nl: {
    subject: 'Je Kluis-wachtwoord opnieuw instellen',
    greeting: 'Hallo,',
    intro: 'Er is gevraagd om het wachtwoord van je Kluis-account opnieuw in te stellen. Open deze link om een nieuw wachtwoord te kiezen:',
    button: 'Kies een nieuw wachtwoord',
    fallback: 'Werkt de knop niet? Kopieer dan deze link naar je browser:',
    expiry: (minutes: number) => `De link is ${minutes} ${minutes === 1 ? 'minuut' : 'minuten'} geldig.`,
    ignore: 'Heb je dit niet aangevraagd? Dan kun je deze e-mail negeren; je wachtwoord blijft ongewijzigd.',
  },
} as const;

export function passwordResetMail(input: PasswordResetMailInput): OutgoingMail {
  const { to, language, expiresInMinutes } = input;
  if (language !== 'nl' && language !== 'en') fail('request_malformed', 'Password reset mail: the language must be nl or en');
  if (!Number.isInteger(expiresInMinutes) || expiresInMinutes < 1) {
    fail('request_malformed', 'Password reset mail: expiresInMinutes must be a positive whole number');
  }
  const url = safeLink(input.resetUrl, 'Password reset mail');
  const copy = PASSWORD_RESET[language];
  const expiry = copy.expiry(expiresInMinutes);

  const text = [copy.greeting, copy.intro, url, expiry, copy.ignore].join('\n\n') + '\n';
  const html = htmlDocument(language, copy.subject, [
    `<p>${escapeHtml(copy.greeting)}</p>`,
    `<p>${escapeHtml(copy.intro)}</p>`,
    `<p><a href="${escapeHtml(url)}" style="display:inline-block;padding:10px 18px;background:#1f4e79;color:#ffffff;text-decoration:none;border-radius:4px;">${escapeHtml(copy.button)}</a></p>`,
    `<p>${escapeHtml(copy.fallback)}<br><span style="word-break:break-all;">${escapeHtml(url)}</span></p>`,
    `<p>${escapeHtml(expiry)}</p>`,
    `<p style="color:#555555;">${escapeHtml(copy.ignore)}</p>`,
  ]);
  return { to, subject: copy.subject, text, html };
}

/**
 * The link as the URL parser writes it, which also drops any tab or line break hidden in it.
 * Only https is allowed, plus http on the two local development hosts; user:password@ is refused
 * because it is a classic way to make a link read as a different site.
 */
export function safeLink(value: string, what: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    fail('request_malformed', `${what}: the link is not a URL`);
  }
  const local = url.protocol === 'http:' && (url.hostname === 'localhost' || url.hostname === '127.0.0.1');
  if (url.protocol !== 'https:' && !local) fail('request_malformed', `${what}: the link must be https (http only on localhost), got ${url.protocol}`);
  if (url.username !== '' || url.password !== '') fail('request_malformed', `${what}: the link may not contain a user name or password`);
  return url.href;
}

/** Escapes text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

function htmlDocument(language: MailLanguage, title: string, paragraphs: string[]): string {
  return [
    '<!DOCTYPE html>',
    `<html lang="${escapeHtml(language)}">`,
    `<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title></head>`,
    '<body style="font-family:Arial,Helvetica,sans-serif;font-size:15px;line-height:1.5;color:#1a1a1a;">',
    ...paragraphs,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
