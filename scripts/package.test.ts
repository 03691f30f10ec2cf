import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import JSZip from 'jszip';

const repo = path.resolve(__dirname, '..');
const run = promisify(execFile);

/** `npm run package` as a person types it, with only the given variables in its environment. */
async function npmRunPackage(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('npm', ['run', '--silent', 'package', '--', ...args], { cwd: repo, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ...env } });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

const VALUES = {
  TEAMS_APP_ID: '5b1f3c7e-2a4d-4e8f-9c10-112233445566',
  BOT_ID: '8c0e2d4f-6a7b-4c9d-8e1f-223344556677',
  ENTRA_CLIENT_ID: '1a2b3c4d-5e6f-4a8b-9c0d-334455667788',
  KLUIS_ENDPOINT: 'https://kluis.contoso.example',
  KLUIS_DOMAIN: 'kluis.contoso.example',
  ENTRA_API_URI: 'api://kluis.contoso.example/botid-8c0e2d4f-6a7b-4c9d-8e1f-223344556677',
  PUBLISHER_NAME: 'Contoso BV',
  PUBLISHER_WEBSITE_URL: 'https://www.contoso.example',
  PUBLISHER_PRIVACY_URL: 'https://www.contoso.example/privacy',
  PUBLISHER_TERMS_URL: 'https://www.contoso.example/terms',
};

let out: string;
beforeEach(() => {
  out = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-npm-package-'));
});
afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

describe('npm run package', () => {
  it('builds appPackage.dev.zip from env/.env.dev with the values the environment supplies', async () => {
    const result = await npmRunPackage(['--env', 'dev', '--out', out], VALUES);
    expect(result.stderr).not.toMatch(/kluis:/);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/app package for "dev" written to .*appPackage\.dev\.zip \(\d+ bytes, manifest 1\.26, validated offline\)/);
    const zip = await JSZip.loadAsync(fs.readFileSync(path.join(out, 'appPackage.dev.zip')));
    expect(Object.keys(zip.files).sort()).toEqual(['color.png', 'manifest.json', 'outline.png']);
    expect(JSON.parse(await zip.file('manifest.json')!.async('string')).bots[0].botId).toBe(VALUES.BOT_ID);
  });

  it('refuses with exit code 1 and one line per problem, writing nothing', async () => {
    const result = await npmRunPackage(['--env', 'dev', '--out', out], { ...VALUES, KLUIS_ENDPOINT: 'http://kluis.contoso.example', BOT_ID: 'not-a-guid' });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('kluis: The app package for "dev" was not built:');
    expect(result.stderr).toContain('  - KLUIS_ENDPOINT must be an https URL (got http)');
    expect(result.stderr).toContain('  - BOT_ID must be a GUID like 6f1c2e3a-1b2c-4d5e-8f90-0a1b2c3d4e5f');
    expect(fs.readdirSync(out)).toEqual([]);
  });

  it('names the environment file that is missing', async () => {
    const result = await npmRunPackage(['--env', 'acceptance', '--out', out], VALUES);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('env/.env.acceptance does not exist: copy env/.env.dev to it and fill it in');
  });

  it('answers a wrong argument with its usage and exit code 2', async () => {
    const result = await npmRunPackage(['--environment', 'dev'], VALUES);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('usage: npm run package [-- --env <name>] [--out <folder>]');
  });
});
