import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import JSZip from 'jszip';
import { loadConfig } from '../../api/config';
import { BOT_COMMANDS } from '../../bot/cards';
import { AppPackageProblems, buildAppPackage, type BuildOptions } from './build';
import { drawIcon } from './icons';
import { encodePng } from './png';
import { validateAgainstBundledSchema } from './schema';

// @microsoft/app-manifest requires strip-bom 5, an ES module Jest's CommonJS runtime cannot load
// (Node and tsx can, so `npm run package` uses the real one). Validation never strips a BOM; this
// stands in for the loader only.
jest.mock('@microsoft/app-manifest/node_modules/strip-bom', () => ({ __esModule: true, default: (text: string) => text.replace(/^\uFEFF/, '') }));

const repo = path.resolve(__dirname, '..', '..');

const IDS = {
  TEAMS_APP_ID: '5b1f3c7e-2a4d-4e8f-9c10-112233445566',
  BOT_ID: '8c0e2d4f-6a7b-4c9d-8e1f-223344556677',
  ENTRA_CLIENT_ID: '1a2b3c4d-5e6f-4a8b-9c0d-334455667788',
};
const VALUES: Record<string, string> = {
  ...IDS,
  KLUIS_ENDPOINT: 'https://kluis.contoso.example',
  KLUIS_DOMAIN: 'kluis.contoso.example',
  ENTRA_API_URI: `api://kluis.contoso.example/botid-${IDS.BOT_ID}`,
  PUBLISHER_NAME: 'Contoso BV',
  PUBLISHER_WEBSITE_URL: 'https://www.contoso.example',
  PUBLISHER_PRIVACY_URL: 'https://www.contoso.example/privacy',
  PUBLISHER_TERMS_URL: 'https://www.contoso.example/terms',
};

let roots: string[] = [];

/** A project folder holding a copy of the real template and icons, and env/.env.test. */
function project(options: { values?: Record<string, string | undefined>; editTemplate?: (t: string) => string } = {}): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-package-'));
  roots.push(root);
  fs.mkdirSync(path.join(root, 'appPackage'));
  fs.mkdirSync(path.join(root, 'env'));
  for (const f of ['color.png', 'outline.png']) fs.copyFileSync(path.join(repo, 'appPackage', f), path.join(root, 'appPackage', f));
  const template = fs.readFileSync(path.join(repo, 'appPackage', 'manifest.json'), 'utf8');
  fs.writeFileSync(path.join(root, 'appPackage', 'manifest.json'), options.editTemplate ? options.editTemplate(template) : template);
  const values = { ...VALUES, ...options.values };
  const lines = Object.entries(values)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}='${v}'`);
  fs.writeFileSync(path.join(root, 'env', '.env.test'), `# test environment\n${lines.join('\n')}\n`);
  return root;
}

function build(root: string, extra: Partial<BuildOptions> = {}) {
  return buildAppPackage({ root, environment: 'test', processEnv: {}, ...extra });
}

/** The problems a build reports; fails the test when the build succeeds. */
async function problemsOf(root: string, extra: Partial<BuildOptions> = {}): Promise<string[]> {
  try {
    await build(root, extra);
  } catch (error) {
    if (error instanceof AppPackageProblems) return [...error.problems];
    throw error;
  }
  throw new Error('the build succeeded, but a problem was expected');
}

afterEach(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  roots = [];
});

describe('npm run package: the built app package', () => {
  it('is a zip of exactly manifest.json and the two icons, and the manifest validates offline against its bundled schema', async () => {
    const built = await build(project());
    expect(built.zipPath.endsWith(path.join('appPackage', 'build', 'appPackage.test.zip'))).toBe(true);
    const zip = await JSZip.loadAsync(fs.readFileSync(built.zipPath));
    expect(Object.keys(zip.files).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    const manifest = JSON.parse(await zip.file('manifest.json')!.async('string'));
    expect(JSON.stringify(manifest)).not.toMatch(/\$\{\{/);
    expect(manifest.manifestVersion).toBe('1.26');
    expect(await validateAgainstBundledSchema(manifest)).toEqual([]);
    expect(await zip.file('color.png')!.async('nodebuffer')).toEqual(fs.readFileSync(path.join(repo, 'appPackage', 'color.png')));
  });

  it('carries the bot in personal, team and group chat scopes, the personal tab and the Outlook read and compose buttons', async () => {
    const { manifest } = await build(project());
    const m = manifest as any;
    expect(m.bots[0].scopes.sort()).toEqual(['groupChat', 'personal', 'team']);
    const tab = m.staticTabs.find((t: any) => t.contentUrl);
    expect(tab).toMatchObject({ contentUrl: 'https://kluis.contoso.example/tab/index.html', scopes: ['personal'] });
    const contexts = m.extensions[0].ribbons.map((r: any) => r.contexts).flat();
    expect(contexts.sort()).toEqual(['mailCompose', 'mailRead']);
    const pages = m.extensions[0].runtimes.map((r: any) => r.code.page);
    expect(pages).toEqual(['summarise', 'ask', 'draft'].map((a) => `https://kluis.contoso.example/addin/taskpane.html?action=${a}`));
  });

  it('uses the ids Kluis itself is configured with (BOT_ID, ENTRA_CLIENT_ID, ENTRA_API_URI)', async () => {
    const { manifest } = await build(project());
    const m = manifest as any;
    const config = loadConfig(
      { BOT_ID: VALUES.BOT_ID, BOT_TYPE: 'UserAssignedMSI', BOT_TENANT_ID: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a', ENTRA_CLIENT_ID: VALUES.ENTRA_CLIENT_ID, ENTRA_API_URI: VALUES.ENTRA_API_URI, MASTER_KEY: 'ab'.repeat(32), PUBLIC_URL: VALUES.KLUIS_ENDPOINT },
      { dotenv: false },
    );
    expect(m.id).toBe(IDS.TEAMS_APP_ID);
    expect(m.bots[0].botId).toBe(config.bot.appId);
    expect(m.webApplicationInfo).toEqual({ id: config.entra.clientId, resource: config.entra.apiUri });
    expect(new URL(config.http.publicUrl!).hostname).toBe(m.validDomains[0]);
  });

  it('lists only commands the bot has a handler for, and every handler', async () => {
    const { manifest } = await build(project());
    const titles: string[] = (manifest as any).bots[0].commandLists.flatMap((l: any) => l.commands.map((c: any) => c.title));
    for (const title of titles) expect(Object.values(BOT_COMMANDS).some((pattern) => pattern.test(title))).toBe(true);
    for (const [name, pattern] of Object.entries(BOT_COMMANDS)) expect([name, titles.some((t) => pattern.test(t))]).toEqual([name, true]);
  });

  it('the bot routes every command through BOT_COMMANDS, so the manifest check sees the real handlers', () => {
    const source = ['teamsBot.ts', path.join('admin', 'panel.ts')].map((file) => fs.readFileSync(path.join(repo, 'bot', file), 'utf8')).join('\n');
    const routes = [...source.matchAll(/app\.message\(\s*([^,]+),/g)].map((m) => m[1]!.trim());
    expect(routes.length).toBeGreaterThan(0);
    for (const route of routes) expect(route).toMatch(/^BOT_COMMANDS\.\w+$/);
    expect(routes.map((r) => r.slice('BOT_COMMANDS.'.length)).sort()).toEqual(Object.keys(BOT_COMMANDS).sort());
  });

  it('lists in validDomains every host the app loads pages from, and no other', async () => {
    const { manifest } = await build(project());
    const text = JSON.stringify(manifest);
    const hosts = new Set([...text.matchAll(/"(https:\/\/[^"]+)"/g)].map((m) => new URL(m[1]!).hostname));
    const m = manifest as any;
    for (const link of [m.$schema, m.developer.websiteUrl, m.developer.privacyUrl, m.developer.termsOfUseUrl]) hosts.delete(new URL(link).hostname);
    expect([...hosts]).toEqual(['kluis.contoso.example']);
    expect(m.validDomains).toEqual(['kluis.contoso.example', 'token.botframework.com']);
  });

  it('inserts setting values JSON-escaped: quotes and backslashes cannot change the manifest', async () => {
    const name = 'Contoso "BV" \\ x';
    const { manifest } = await build(project(), { processEnv: { PUBLISHER_NAME: name } });
    expect((manifest as any).developer.name).toBe(name);
    expect(Object.keys(manifest)).not.toContain('BV');
  });

  it('lets the process environment override the environment file', async () => {
    const { manifest } = await build(project({ values: { PUBLISHER_NAME: 'From file' } }), { processEnv: { PUBLISHER_NAME: 'From environment' } });
    expect((manifest as any).developer.name).toBe('From environment');
  });
});

describe('npm run package refuses', () => {
  it('a plain http endpoint, naming the setting', async () => {
    const problems = await problemsOf(project({ values: { KLUIS_ENDPOINT: 'http://kluis.contoso.example' } }));
    expect(problems).toContain('KLUIS_ENDPOINT must be an https URL (got http)');
  });

  it('an http URL written into the template, which the schema itself lets through', async () => {
    const editTemplate = (t: string) => t.replace('"websiteUrl": "${{KLUIS_ENDPOINT}}/tab/index.html"', '"websiteUrl": "http://${{KLUIS_DOMAIN}}/tab/index.html"');
    const root = project({ editTemplate });
    const problems = await problemsOf(root);
    expect(problems).toContain('/staticTabs/1/websiteUrl is http: only https URLs are allowed (http://kluis.contoso.example/tab/index.html)');
    expect(problems.filter((p) => p.startsWith('schema:'))).toEqual([]);
  });

  it('a placeholder whose setting is not set, and writes no package', async () => {
    const root = project({ values: { BOT_ID: undefined } });
    const problems = await problemsOf(root);
    expect(problems).toEqual([expect.stringMatching(/^BOT_ID is not set \(in env\/\.env\.test or the environment\): the bot's Microsoft App ID/)]);
    expect(fs.existsSync(path.join(root, 'appPackage', 'build'))).toBe(false);
  });

  it('a placeholder nobody defined', async () => {
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"accentColor": "#1F4E79"', '"accentColor": "${{ACCENT}}"') }));
    expect(problems).toEqual(['ACCENT is not set (in env/.env.test or the environment)']);
  });

  it('ids that are not GUIDs, or the all-zero GUID of a template', async () => {
    const problems = await problemsOf(project({ values: { BOT_ID: 'my-bot', ENTRA_CLIENT_ID: '00000000-0000-0000-0000-000000000000' } }));
    expect(problems).toEqual(expect.arrayContaining(['BOT_ID must be a GUID like 6f1c2e3a-1b2c-4d5e-8f90-0a1b2c3d4e5f', 'ENTRA_CLIENT_ID is the all-zero GUID of a template, not a real id']));
  });

  it('a manifest whose bot id is not the BOT_ID Kluis runs with', async () => {
    const other = 'aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee';
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"botId": "${{BOT_ID}}"', `"botId": "${other}"`) }));
    expect(problems).toContain(`/bots/0/botId is ${other} but BOT_ID is ${VALUES.BOT_ID}: the manifest must use the id Kluis runs with`);
  });

  it('an SSO resource that is not ENTRA_API_URI', async () => {
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"resource": "${{ENTRA_API_URI}}"', '"resource": "api://kluis.contoso.example/${{ENTRA_CLIENT_ID}}"') }));
    expect(problems).toContain(`/webApplicationInfo/resource is "api://kluis.contoso.example/${VALUES.ENTRA_CLIENT_ID}" but ENTRA_API_URI is ${VALUES.ENTRA_API_URI}`);
  });

  it('an Application ID URI on another domain than the app (Teams SSO would refuse it)', async () => {
    const problems = await problemsOf(project({ values: { ENTRA_API_URI: `api://elsewhere.example/botid-${IDS.BOT_ID}` } }));
    expect(problems).toEqual(['ENTRA_API_URI must be on KLUIS_DOMAIN (kluis.contoso.example), not elsewhere.example']);
    const written = await problemsOf(project({ editTemplate: (t) => t.replace('"resource": "${{ENTRA_API_URI}}"', '"resource": "api://elsewhere.example/botid-${{BOT_ID}}"') }));
    expect(written).toContain('/webApplicationInfo/resource is on elsewhere.example, but Teams SSO needs it on the app\'s domain kluis.contoso.example');
  });

  it('a command without a handler, and a handler without a command', async () => {
    const editTemplate = (t: string) => t.replace('{ "title": "new", "description": "Start a new conversation; earlier questions are no longer used (also: nieuw)" }', '{ "title": "reset", "description": "Forget everything" }');
    const problems = await problemsOf(project({ editTemplate }));
    expect(problems).toEqual(['/bots/0/commandLists/0/commands/1 "reset" has no handler in bot/teamsBot.ts (it would be answered as a question)', 'the bot\'s "newConversation" command is not in any command list of the manifest']);
  });

  it('a command the bot would only answer if it had that handler (checked against the patterns given)', async () => {
    const problems = await problemsOf(project(), { botCommands: { help: BOT_COMMANDS.help, newConversation: BOT_COMMANDS.newConversation } });
    expect(problems).toEqual(['/bots/0/commandLists/0/commands/2 "signin" has no handler in bot/teamsBot.ts (it would be answered as a question)', '/bots/0/commandLists/0/commands/3 "signout" has no handler in bot/teamsBot.ts (it would be answered as a question)', '/bots/0/commandLists/0/commands/4 "admin" has no handler in bot/teamsBot.ts (it would be answered as a question)', '/bots/0/commandLists/0/commands/5 "image" has no handler in bot/teamsBot.ts (it would be answered as a question)', '/bots/0/commandLists/0/commands/6 "mydata" has no handler in bot/teamsBot.ts (it would be answered as a question)']);
  });

  it('KLUIS_DOMAIN that is not the host of KLUIS_ENDPOINT', async () => {
    const problems = await problemsOf(project({ values: { KLUIS_DOMAIN: 'kluis.other.example', ENTRA_API_URI: `api://kluis.other.example/botid-${IDS.BOT_ID}` } }));
    expect(problems).toEqual(['KLUIS_DOMAIN must be the host of KLUIS_ENDPOINT (kluis.contoso.example)']);
  });

  it('validDomains that miss a host the app loads from, or list one it never uses', async () => {
    const editTemplate = (t: string) =>
      t
        .replace('"${{KLUIS_ENDPOINT}}/addin/taskpane.html?action=ask"', '"https://addin.contoso.example/taskpane.html?action=ask"')
        .replace('"validDomains": ["${{KLUIS_DOMAIN}}", "token.botframework.com"]', '"validDomains": ["${{KLUIS_DOMAIN}}", "token.botframework.com", "*.evil.example", "https://kluis.contoso.example"]');
    const problems = await problemsOf(project({ editTemplate }));
    expect(problems).toEqual([
      '/validDomains entry "https://kluis.contoso.example" must be a host name only (no scheme, port or path)',
      '/extensions/0/runtimes/1/code/page is on addin.contoso.example, which /validDomains does not list',
      '/validDomains lists "*.evil.example", which no URL of the app uses: remove it',
      '/validDomains lists "https://kluis.contoso.example", which no URL of the app uses: remove it',
    ]);
  });

  it('a URL with a user name and password in it', async () => {
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"contentUrl": "${{KLUIS_ENDPOINT}}/tab/index.html"', '"contentUrl": "https://admin:hunter2@${{KLUIS_DOMAIN}}/tab/index.html"') }));
    expect(problems).toEqual(['/staticTabs/1/contentUrl carries a user name or password']);
  });

  it('an endpoint with a path, and a domain with a scheme', async () => {
    const problems = await problemsOf(project({ values: { KLUIS_ENDPOINT: 'https://kluis.contoso.example/kluis/', KLUIS_DOMAIN: 'https://kluis.contoso.example' } }));
    expect(problems).toContain('KLUIS_ENDPOINT must be only https://host, without a path or trailing slash (e.g. https://kluis.contoso.example)');
    expect(problems).toContain('KLUIS_DOMAIN must be a host name like kluis.contoso.example (no scheme, port or path)'.replace('kluis.contoso.example', 'kluis.example.com'));
  });

  it('a ribbon button whose action no runtime declares', async () => {
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"actionId": "summariseThread"', '"actionId": "summariseEverything"') }));
    expect(problems).toEqual(['/extensions/0/ribbons/0/tabs/0/groups/0/controls/0/actionId "summariseEverything" is not an action of any runtime']);
  });

  it('a manifest version whose schema is not bundled, rather than downloading one', async () => {
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"manifestVersion": "1.26"', '"manifestVersion": "1.18"') }));
    expect(problems).toEqual([expect.stringMatching(/^schema: \/manifestVersion 1\.18 has no schema bundled in @microsoft\/app-manifest \(bundled: .*1\.26/)]);
  });

  it('a schema violation, with its JSON pointer', async () => {
    const problems = await problemsOf(project({ editTemplate: (t) => t.replace('"accentColor": "#1F4E79"', '"accentColor": "navy"') }));
    expect(problems).toEqual([expect.stringMatching(/^schema: \/accentColor must match pattern/)]);
  });

  it('icons of the wrong size, or an outline icon with colour', async () => {
    const root = project();
    fs.writeFileSync(path.join(root, 'appPackage', 'color.png'), encodePng(drawIcon({ size: 96, background: '#1F4E79', symbol: '#FFFFFF', padding: 0.2 })));
    fs.writeFileSync(path.join(root, 'appPackage', 'outline.png'), encodePng(drawIcon({ size: 32, symbol: '#1F4E79', padding: 0.03 })));
    const problems = await problemsOf(root);
    expect(problems).toEqual(['appPackage/color.png is 96x96; the color icon must be 192x192', expect.stringMatching(/^appPackage\/outline\.png has \d+ visible pixel\(s\) that are not white: the outline icon must be white on transparent$/)]);
  });

  it('an icon path that leaves the appPackage folder, and a file that is not a PNG', async () => {
    const root = project({ editTemplate: (t) => t.replace('"outline": "outline.png"', '"outline": "../../secret.png"') });
    fs.writeFileSync(path.join(root, 'appPackage', 'color.png'), 'not an image');
    const problems = await problemsOf(root);
    expect(problems).toEqual(expect.arrayContaining(['/icons/outline must be a .png file name next to manifest.json (got "../../secret.png")', 'appPackage/color.png: not a PNG file']));
  });

  it('a value copied with its placeholder, a control character, or a name too long for Teams', async () => {
    const problems = await problemsOf(project(), { processEnv: { BOT_ID: '${{BOT_ID}}', PUBLISHER_WEBSITE_URL: 'https://www.contoso.example/\u0007', PUBLISHER_NAME: 'Contoso Engineering and Consulting BV' } });
    expect(problems).toEqual([
      'PUBLISHER_NAME must be at most 32 characters',
      'PUBLISHER_WEBSITE_URL contains a control character',
      'BOT_ID holds an unfilled placeholder (${{BOT_ID}})',
    ]);
  });

  it('an environment name that is not a plain name, and an environment without its file', async () => {
    await expect(build(project(), { environment: '../../etc/passwd' })).rejects.toThrow('environment name "../../etc/passwd" must be lower-case letters, digits and dashes');
    await expect(build(project(), { environment: 'prod' })).rejects.toThrow('env/.env.prod does not exist');
  });
});
