/**
 * What the manifest schema cannot check and Teams or Outlook would only reject after upload (or,
 * worse, accept and break at run time):
 *
 * - every URL is https (the schema's `httpsUrl` pattern also admits http://);
 * - the ids are the ones Kluis runs with: app id, bot id, Entra client id and Application ID URI;
 * - the Application ID URI is on the app's own domain (Teams SSO refuses a resource elsewhere);
 * - validDomains is exactly the set of hosts the app loads pages from, plus the Bot Framework's
 *   token host for the sign-in card — no unused domain widens what the tab may navigate to;
 * - every bot command names words a handler of bot/teamsBot.ts answers, and every handler is listed;
 * - every Outlook ribbon button runs an action some runtime declares.
 */
import { isGuid } from './settings';

export interface ExpectedIds {
  teamsAppId: string;
  botId: string;
  entraClientId: string;
  entraApiUri: string;
  domain: string;
}

/** Hosts the manifest may list without a URL of its own: the Bot Framework Token Service's sign-in pages. */
export const SIGN_IN_DOMAINS = ['token.botframework.com'];

/** Links that open in the browser, not inside Teams or Outlook, so their hosts need no validDomains entry. */
const BROWSER_LINKS = new Set(['/$schema', '/developer/websiteUrl', '/developer/privacyUrl', '/developer/termsOfUseUrl']);

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function* strings(value: Json, at = ''): Generator<[string, string]> {
  if (typeof value === 'string') yield [at, value];
  else if (Array.isArray(value)) for (let i = 0; i < value.length; i++) yield* strings(value[i]!, `${at}/${i}`);
  else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) yield* strings(v, `${at}/${k}`);
}

function hostCovered(host: string, domains: readonly string[]): boolean {
  return domains.some((d) => {
    const domain = d.toLowerCase();
    return domain.startsWith('*.') ? host.endsWith(domain.slice(1)) && host.length > domain.length - 1 : host === domain;
  });
}

export function checkManifest(manifest: Record<string, unknown>, expected: ExpectedIds, botCommands: Readonly<Record<string, RegExp>>): string[] {
  const problems: string[] = [];
  const m = manifest as Record<string, Json>;

  // 1. https only, and the hosts pages are loaded from.
  const loadedHosts = new Map<string, string>();
  for (const [at, value] of strings(m as Json)) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) continue;
    if (at === '/webApplicationInfo/resource') continue; // api://..., checked below
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      problems.push(`${at} is not a valid URL: ${value.slice(0, 120)}`);
      continue;
    }
    if (url.protocol !== 'https:') problems.push(`${at} is ${url.protocol.replace(':', '')}: only https URLs are allowed (${value.slice(0, 120)})`);
    if (url.username || url.password) problems.push(`${at} carries a user name or password`);
    if (!BROWSER_LINKS.has(at) && !loadedHosts.has(url.hostname)) loadedHosts.set(url.hostname, at);
  }

  // 2. ids.
  const bots = Array.isArray(m.bots) ? (m.bots as Array<Record<string, Json>>) : [];
  const web = (m.webApplicationInfo ?? {}) as Record<string, Json>;
  const ids: Array<[string, unknown, string, string]> = [
    ['/id', m.id, expected.teamsAppId, 'TEAMS_APP_ID'],
    ['/bots/0/botId', bots[0]?.botId, expected.botId, 'BOT_ID'],
    ['/webApplicationInfo/id', web.id, expected.entraClientId, 'ENTRA_CLIENT_ID'],
  ];
  for (const [at, actual, wanted, name] of ids) {
    if (typeof actual !== 'string' || !isGuid(actual)) problems.push(`${at} must be a GUID other than all zeros (got ${JSON.stringify(actual ?? null)})`);
    else if (actual.toLowerCase() !== wanted.toLowerCase()) problems.push(`${at} is ${actual} but ${name} is ${wanted}: the manifest must use the id Kluis runs with`);
  }
  if (bots.length !== 1) problems.push(`/bots must hold exactly Kluis's one bot (found ${bots.length})`);
  if (web.resource !== expected.entraApiUri) problems.push(`/webApplicationInfo/resource is ${JSON.stringify(web.resource ?? null)} but ENTRA_API_URI is ${expected.entraApiUri}`);
  const resourceHost = typeof web.resource === 'string' ? /^api:\/\/([^/]+)\//.exec(web.resource)?.[1] : undefined;
  if (resourceHost && resourceHost.toLowerCase() !== expected.domain.toLowerCase()) problems.push(`/webApplicationInfo/resource is on ${resourceHost}, but Teams SSO needs it on the app's domain ${expected.domain}`);

  // 3. validDomains: bare host names, covering every loaded host, none unused.
  const domains = Array.isArray(m.validDomains) ? (m.validDomains as Json[]).filter((d): d is string => typeof d === 'string') : [];
  for (const d of domains) {
    if (/[/:]/.test(d)) problems.push(`/validDomains entry "${d}" must be a host name only (no scheme, port or path)`);
  }
  for (const [host, at] of loadedHosts) {
    if (!hostCovered(host, domains)) problems.push(`${at} is on ${host}, which /validDomains does not list`);
  }
  for (const d of domains) {
    const used = [...loadedHosts.keys()].some((host) => hostCovered(host, [d])) || SIGN_IN_DOMAINS.includes(d.toLowerCase());
    if (!used) problems.push(`/validDomains lists "${d}", which no URL of the app uses: remove it`);
  }
  if (!domains.some((d) => d.toLowerCase() === expected.domain.toLowerCase())) problems.push(`/validDomains must list KLUIS_DOMAIN (${expected.domain})`);

  // 4. Bot commands against the bot's handlers, both ways.
  const patterns = Object.entries(botCommands);
  const listed = new Set<string>();
  bots.forEach((bot, b) => {
    const lists = Array.isArray(bot.commandLists) ? (bot.commandLists as Array<Record<string, Json>>) : [];
    lists.forEach((list, l) => {
      const commands = Array.isArray(list.commands) ? (list.commands as Array<Record<string, Json>>) : [];
      const titles = new Set<string>();
      commands.forEach((command, c) => {
        const title = typeof command.title === 'string' ? command.title : '';
        if (titles.has(title.toLowerCase())) problems.push(`/bots/${b}/commandLists/${l}/commands/${c} repeats the command "${title}"`);
        titles.add(title.toLowerCase());
        const handler = patterns.find(([, pattern]) => pattern.test(title));
        if (!handler) problems.push(`/bots/${b}/commandLists/${l}/commands/${c} "${title}" has no handler in bot/teamsBot.ts (it would be answered as a question)`);
        else listed.add(handler[0]);
      });
    });
  });
  for (const [name] of patterns) {
    if (!listed.has(name)) problems.push(`the bot's "${name}" command is not in any command list of the manifest`);
  }

  // 5. Outlook: ribbon buttons run declared actions.
  const extensions = Array.isArray(m.extensions) ? (m.extensions as Array<Record<string, Json>>) : [];
  extensions.forEach((extension, e) => {
    const actions = new Set<string>();
    for (const runtime of (Array.isArray(extension.runtimes) ? extension.runtimes : []) as Array<Record<string, Json>>) {
      for (const action of (Array.isArray(runtime.actions) ? runtime.actions : []) as Array<Record<string, Json>>) {
        if (typeof action.id === 'string') {
          if (actions.has(action.id)) problems.push(`/extensions/${e} declares the action "${action.id}" twice`);
          actions.add(action.id);
        }
      }
    }
    for (const [at, value] of strings(extension.ribbons ?? [], `/extensions/${e}/ribbons`)) {
      if (at.endsWith('/actionId') && !actions.has(value)) problems.push(`${at} "${value}" is not an action of any runtime`);
    }
  });

  return problems;
}
