/**
 * The values an app package is built from, one environment at a time: the `${{NAME}}` placeholders
 * of appPackage/manifest.json, filled from env/.env.<environment> (written by the Teams Toolkit
 * lifecycle in teamsapp.yml, or by hand) with the process environment winning, as Kluis's own
 * settings do. The ids are the same settings Kluis runs with (BOT_ID, ENTRA_CLIENT_ID,
 * ENTRA_API_URI, see api/config.ts), so one environment file describes both sides.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';

export type PackageValues = Record<string, string>;

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const NIL_GUID = /^0{8}-0{4}-0{4}-0{4}-0{12}$/;
const HOST = /^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)+$/i;

/** Environment names become file names: keep them to letters, digits and dashes. */
export const ENVIRONMENT_NAME = /^[a-z0-9][a-z0-9-]{0,31}$/;

export function isGuid(value: string): boolean {
  return GUID.test(value) && !NIL_GUID.test(value);
}

export function isHostName(value: string): boolean {
  return HOST.test(value);
}

/** An https URL without credentials; `origin` = scheme and host only, no path or trailing slash. */
export function httpsUrlProblem(value: string, kind: 'url' | 'origin' = 'url'): string | undefined {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'is not a URL';
  }
  if (url.protocol !== 'https:') return `must be an https URL (got ${url.protocol.replace(':', '')})`;
  if (url.username || url.password) return 'must not carry a user name or password';
  if (kind === 'origin' && (value.replace(/\/+$/, '') !== url.origin || value.endsWith('/'))) return `must be only https://host, without a path or trailing slash (e.g. ${url.origin})`;
  return undefined;
}

type Rule = (value: string, all: PackageValues) => string | undefined;

const guidRule: Rule = (v) => (isGuid(v) ? undefined : NIL_GUID.test(v) ? 'is the all-zero GUID of a template, not a real id' : 'must be a GUID like 6f1c2e3a-1b2c-4d5e-8f90-0a1b2c3d4e5f');

/** What each setting must look like; names used by the manifest but not listed here only need a value. */
export const PACKAGE_SETTINGS: Record<string, { meaning: string; rule: Rule }> = {
  TEAMS_APP_ID: { meaning: 'the app id in Teams (teamsApp/create writes it)', rule: guidRule },
  BOT_ID: { meaning: "the bot's Microsoft App ID, as Kluis's BOT_ID", rule: guidRule },
  ENTRA_CLIENT_ID: { meaning: "the client id of Kluis's Entra app, as Kluis's ENTRA_CLIENT_ID", rule: guidRule },
  ENTRA_API_URI: {
    meaning: "the Application ID URI of Kluis's Entra app, as Kluis's ENTRA_API_URI",
    rule: (v, all) => {
      const match = /^api:\/\/([^/\s]+)\/(\S+)$/.exec(v);
      if (!match) return 'must look like api://<KLUIS_DOMAIN>/botid-<BOT_ID> (or api://<KLUIS_DOMAIN>/<client id>)';
      // Teams SSO accepts a token only for a resource on the domain its tab and bot are served from.
      if (all.KLUIS_DOMAIN && match[1]!.toLowerCase() !== all.KLUIS_DOMAIN.toLowerCase()) return `must be on KLUIS_DOMAIN (${all.KLUIS_DOMAIN}), not ${match[1]}`;
      return undefined;
    },
  },
  KLUIS_ENDPOINT: { meaning: 'https://<host> where Kluis serves /api/messages, /tab/ and /addin/ (Kluis\'s PUBLIC_URL)', rule: (v) => httpsUrlProblem(v, 'origin') },
  KLUIS_DOMAIN: {
    meaning: 'the host name of KLUIS_ENDPOINT',
    rule: (v, all) => {
      if (!isHostName(v)) return 'must be a host name like kluis.example.com (no scheme, port or path)';
      if (all.KLUIS_ENDPOINT && !httpsUrlProblem(all.KLUIS_ENDPOINT, 'origin') && new URL(all.KLUIS_ENDPOINT).hostname !== v.toLowerCase()) return `must be the host of KLUIS_ENDPOINT (${new URL(all.KLUIS_ENDPOINT).hostname})`;
      return undefined;
    },
  },
  PUBLISHER_NAME: { meaning: 'the organisation publishing Kluis to its users (at most 32 characters)', rule: (v) => (v.length > 32 ? 'must be at most 32 characters' : undefined) },
  PUBLISHER_WEBSITE_URL: { meaning: "the publisher's website", rule: (v) => httpsUrlProblem(v) },
  PUBLISHER_PRIVACY_URL: { meaning: "the publisher's privacy statement for Kluis", rule: (v) => httpsUrlProblem(v) },
  PUBLISHER_TERMS_URL: { meaning: 'the terms of use of Kluis in this organisation', rule: (v) => httpsUrlProblem(v) },
};

/**
 * Read env/.env.<environment> and lay the process environment over it (non-empty values win).
 * Secrets (SECRET_*) never reach the manifest, so the `.user` file is not read.
 */
export function loadPackageValues(root: string, environment: string, processEnv: Record<string, string | undefined>): { values: PackageValues; file: string; problems: string[] } {
  const file = path.join('env', `.env.${environment}`);
  if (!ENVIRONMENT_NAME.test(environment)) return { values: {}, file, problems: [`environment name "${environment.slice(0, 40)}" must be lower-case letters, digits and dashes (e.g. dev, local, prod)`] };
  let fromFile: Record<string, string>;
  try {
    fromFile = parseDotenv(fs.readFileSync(path.join(root, file)));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    return { values: {}, file, problems: [`${file} does not exist: copy env/.env.dev to it and fill it in`] };
  }
  const values: PackageValues = {};
  for (const [k, v] of Object.entries(fromFile)) if (v.trim() !== '') values[k] = v.trim();
  for (const [k, v] of Object.entries(processEnv)) if (v !== undefined && v.trim() !== '' && /^[A-Z][A-Z0-9_]*$/.test(k)) values[k] = v.trim();
  return { values, file, problems: [] };
}

/** Check the settings the manifest uses against their rules; one line per problem, naming the setting. */
export function checkPackageValues(used: readonly string[], values: PackageValues, source: string): string[] {
  const problems: string[] = [];
  for (const name of used) {
    const value = values[name];
    const setting = PACKAGE_SETTINGS[name];
    if (value === undefined) {
      problems.push(`${name} is not set (in ${source} or the environment)${setting ? `: ${setting.meaning}` : ''}`);
      continue;
    }
    // A value is inserted once, never expanded again: one that holds a placeholder was copied unfilled.
    if (/\$\{\{/.test(value)) {
      problems.push(`${name} holds an unfilled placeholder (${value.slice(0, 60)})`);
      continue;
    }
    if (/[\x00-\x1f\x7f]/.test(value)) {
      problems.push(`${name} contains a control character`);
      continue;
    }
    const problem = setting?.rule(value, values);
    if (problem) problems.push(`${name} ${problem}`);
  }
  return problems;
}
