/**
 * Kluis as production starts it (its own process) with DATA_KEY_VAULT_KEY set, on App Service's
 * managed identity protocol (IDENTITY_ENDPOINT, IDENTITY_HEADER) against the fake Key Vault
 * (tests/fakes/keyVaultServer.ts), whose certificate it trusts through NODE_EXTRA_CA_CERTS as an
 * operator would trust a private authority. An uploaded document is sealed under a data key that
 * Key Vault wrapped, and a question is answered from it; then `npm run keys:rotate` moves the keys
 * onto a new version of the vault key after a rotation in Key Vault, and a replica started with
 * the first version disabled still answers. The command re-wraps every workspace of a database, so
 * this runs on a private MariaDB instance of its own.
 */
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { startFakeKeyVault, type FakeKeyVault } from '../fakes/keyVaultServer';
import { createDatabase, type Database } from '../../api/db/client';
import { startEmbeddedMariadb, type EmbeddedMariadb } from '../../api/db/embeddedMariadb';
import { migrateDatabase } from '../../api/db/migrate';
import { productionBasics, REPO_ROOT, startKluisProcess, type KluisProcess } from '../support/kluisProcess';

jest.setTimeout(180_000);

const tenant = randomUUID();
let instance: EmbeddedMariadb;
let db: Database;
const identity = randomUUID();
const keyName = 'kluis-data-keys';
let vault: FakeKeyVault;
let issuer: FakeEntraIssuer;
let kluis: KluisProcess;
let dir: string;
let firstVersion: string;
let settings: Record<string, string>;

beforeAll(async () => {
  vault = await startFakeKeyVault();
  issuer = await startFakeEntraIssuer();
  firstVersion = vault.createKeyVersion(keyName);
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-key-vault-'));
  fs.chmodSync(dir, 0o711);
  instance = await startEmbeddedMariadb({ dir: path.join(dir, 'mariadb') });
  const url = await instance.createDatabase('kluis_key_vault');
  await migrateDatabase(url);
  db = createDatabase(url, 2);
  const ca = path.join(dir, 'vault-ca.pem');
  fs.writeFileSync(ca, vault.caCertificate);
  settings = {
    ...productionBasics(),
    DATABASE_URL: url,
    DATA_DIR: path.join(dir, 'data'),
    ONBOARD_TENANTS: `${tenant}=Contoso`,
    ...issuer.kluisSettings(),
    DATA_KEY_VAULT_KEY: vault.keyUrl(keyName),
    DATA_KEY_VAULT_IDENTITY: identity,
    IDENTITY_ENDPOINT: vault.identityEndpoint,
    IDENTITY_HEADER: vault.identityHeader,
    NODE_EXTRA_CA_CERTS: ca,
  };
  kluis = await startKluisProcess(settings, { readyTimeoutMs: 55_000 });
}, 150_000);

afterAll(async () => {
  await kluis?.stop(10_000);
  await issuer?.close();
  await vault?.close();
  await db?.$disconnect();
  await instance?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}, 60_000);

function multipart(filename: string, data: Buffer): { body: Buffer; contentType: string } {
  const boundary = `----kluis${randomBytes(8).toString('hex')}`;
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: application/octet-stream\r\n\r\n`;
  return { body: Buffer.concat([Buffer.from(head), data, Buffer.from(`\r\n--${boundary}--\r\n`)]), contentType: `multipart/form-data; boundary=${boundary}` };
}

async function ask(question: string): Promise<{ text: string; citations: Array<{ title: string }>; nothingFound: boolean }> {
  const response = await fetch(`${kluis.url}/api/chat`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${await issuer.bearerFor(tenant, randomUUID(), ['Kluis.User'])}` },
    body: JSON.stringify({ message: question, channel: 'tab', conversationId: randomUUID() }),
  });
  const text = await response.text();
  expect(`${response.status} ${text.slice(0, 200)}`).toMatch(/^200 /);
  const done = text.split('\n\n').find((block) => block.startsWith('event: done'));
  if (!done) throw new Error(`no done event in ${text}`);
  return JSON.parse(done.split('\n').find((l) => l.startsWith('data: '))!.slice(6));
}

const QUESTION = 'Hoeveel bedraagt de kilometervergoeding per kilometer?';

test('an upload is sealed under a data key Key Vault wrapped, and the question is answered from it', async () => {
  const document = fs.readFileSync(path.join(REPO_ROOT, 'tests', 'fixtures', 'documents', 'headings.docx'));
  const { body, contentType } = multipart('reiskosten.docx', document);
  const response = await fetch(`${kluis.url}/api/knowledge/uploads`, {
    method: 'POST',
    headers: { 'content-type': contentType, authorization: `Bearer ${await issuer.bearerFor(tenant, randomUUID(), ['Kluis.Manager'])}` },
    body,
  });
  expect(response.status).toBe(201);

  const workspace = await db.workspace.findUniqueOrThrow({ where: { tenantId: tenant } });
  const row = await db.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: workspace.id } });
  expect(row.kekId).toBe(`kv:${firstVersion}`);
  expect(row.wrappedKey?.length).toBe(256);
  expect(vault.operations.some((o) => o.op === 'wrapkey' && o.kid === firstVersion && o.ok)).toBe(true);
  // Kluis asked App Service's identity endpoint as its user-assigned identity, with the right header.
  expect(vault.identityRequests.filter((r) => r.clientId === identity).every((r) => r.headerValid && r.resource === 'https://vault.azure.net')).toBe(true);

  const answer = await ask(QUESTION);
  expect(answer.nothingFound).toBe(false);
  expect(answer.text).toContain('0,4280');
  expect(kluis.errorLines()).toEqual([]);
});

test('after a rotation in Key Vault, npm run keys:rotate re-wraps the data keys under the new version, and a replica started with the old version disabled still answers', async () => {
  const workspace = await db.workspace.findUniqueOrThrow({ where: { tenantId: tenant } });
  const secondVersion = vault.createKeyVersion(keyName);
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/keys-rotate.ts'], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...settings },
  });
  expect(stdout).toContain(`1 workspace data keys re-wrapped under the Azure Key Vault key ${secondVersion}.`);
  expect((await db.workspaceDataKey.findUniqueOrThrow({ where: { workspaceId: workspace.id } })).kekId).toBe(`kv:${secondVersion}`);
  expect(stdout).toMatch(/every live data key is under the current version of DATA_KEY_VAULT_KEY/);

  // A replica started now, with the first version disabled in Key Vault, opens the data under the second.
  vault.setEnabled(firstVersion, false);
  await kluis.stop(10_000);
  kluis = await startKluisProcess(settings, { readyTimeoutMs: 55_000 });
  const answer = await ask(QUESTION);
  expect(answer.text).toContain('0,4280');
  expect(vault.operations.some((o) => o.kid === secondVersion && o.op === 'unwrapkey' && o.ok)).toBe(true);
  expect(kluis.errorLines()).toEqual([]);
});
