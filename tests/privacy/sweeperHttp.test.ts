/**
 * POST /api/workspace/retention/sweep over real HTTP (admins, own workspace, bad input refused), and
 * workspace termination: the operator script, and sign-ins refused once a tenant is terminated.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { promisify } from 'node:util';
import { createPrismaAuditLog } from '../../api/audit/prismaAuditLog';
import { createPrincipals } from '../../api/tenancy/principals';
import { createPrismaWorkspaceDirectory } from '../../api/tenancy/prismaWorkspaceDirectory';
import { parseTerminateArgs } from '../../scripts/workspace-terminate';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase, testDatabaseUrl } from '../support/database';
import { startTestKluis } from '../support/kluis';

const execFileAsync = promisify(execFile);
const ROOT = path.resolve(__dirname, '..', '..');
const tenantA = randomUUID();
const tenantB = randomUUID();
const tenantGone = randomUUID();
const db = openTestDatabase();
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
const people = { adminA: randomUUID(), userA: randomUUID(), adminB: randomUUID(), adminGone: randomUUID() };

const token = (tid: string, oid: string, role: string) => issuer.issueAccessToken({ tid, oid, iss: `${issuer.authorityHost}/${tid}/v2.0`, aud: issuer.clientId, roles: [role] });

async function call(method: string, urlPath: string, bearer: string | undefined, payload?: unknown, headers: Record<string, string> = {}) {
  const body = payload === undefined ? undefined : typeof payload === 'string' ? payload : JSON.stringify(payload);
  const response = await fetch(`${kluis.url}${urlPath}`, {
    method,
    headers: { ...(bearer ? { authorization: `Bearer ${bearer}` } : {}), ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    body,
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function workspaceOf(tenantId: string): Promise<string> {
  return (await db.workspace.findUniqueOrThrow({ where: { tenantId }, select: { id: true } })).id;
}

async function oldLoginAttempt(workspaceId: string, days: number): Promise<string> {
  const id = randomUUID();
  await db.loginAttempt.create({ data: { id, workspaceId, ip: '198.51.100.9', method: 'password', outcome: 'wrong-password', createdAt: new Date(Date.now() - days * 86_400_000) } });
  return id;
}

async function terminateScript(args: string[]) {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), 'scripts/workspace-terminate.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, DATABASE_URL: testDatabaseUrl(), TERMINATED_WORKSPACE_ERASE_DAYS: '20' },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis({
    LOCAL_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantA}=Contoso,${tenantB}=Fabrikam,${tenantGone}=Former customer`,
    ENTRA_CLIENT_ID: issuer.clientId,
    ENTRA_API_URI: `api://kluis.example/${issuer.clientId}`,
    ENTRA_AUTHORITY_HOST: issuer.authorityHost,
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  const ids = (await db.workspace.findMany({ where: { tenantId: { in: [tenantA, tenantB, tenantGone] } }, select: { id: true } })).map((w) => w.id);
  await db.loginAttempt.deleteMany({ where: { workspaceId: { in: ids } } });
  await db.workspace.deleteMany({ where: { id: { in: ids } } });
  await db.$disconnect();
});

describe('POST /api/workspace/retention/sweep', () => {
  it("sweeps the admin's own workspace now and answers with counts, never content", async () => {
    const bearer = await token(tenantA, people.adminA, 'Kluis.Admin');
    expect((await call('GET', '/api/me', bearer)).status).toBe(200);
    const a = await workspaceOf(tenantA);
    const b = await workspaceOf(tenantB);
    const aOld = await oldLoginAttempt(a, 38);
    const aRecent = await oldLoginAttempt(a, 36);
    const bOld = await oldLoginAttempt(b, 38);

    const r = await call('POST', '/api/workspace/retention/sweep', bearer, {});

    expect(r.status).toBe(200);
    expect(r.body).toEqual({ workspaceId: a, removed: { conversationDays: 0, inactiveConversationDays: 0, uploadedFileDays: 0, loginLogDays: 1, terminatedWorkspace: 0 }, failures: [] });
    const left = (await db.loginAttempt.findMany({ where: { id: { in: [aOld, aRecent, bOld] } }, select: { id: true } })).map((x) => x.id);
    // Workspace B's expired attempt waits for its own sweep (cross-workspace).
    expect(left.sort()).toEqual([aRecent, bOld].sort());
    const events = await db.auditEvent.findMany({ where: { workspaceId: a, kind: 'retention.swept' } });
    expect(events).toHaveLength(1);
    expect(events[0]!.detail).toMatchObject({ loginLogDays: 1, failures: 0, trigger: 'admin' });
  });

  it('wants the empty JSON object as its body, like every write of the API', async () => {
    const r = await call('POST', '/api/workspace/retention/sweep', await token(tenantA, people.adminA, 'Kluis.Admin'));
    expect(r.status).toBe(415);
  });

  it.each(['Kluis.User', 'Kluis.Manager', 'Kluis.Viewer'])('refuses %s with 403 and removes nothing', async (role) => {
    const b = await workspaceOf(tenantB);
    const bOld = await oldLoginAttempt(b, 40);
    const r = await call('POST', '/api/workspace/retention/sweep', await token(tenantB, people.adminB, role), {});
    expect(r.status).toBe(403);
    expect(r.body.error.id).toBe('forbidden');
    expect(await db.loginAttempt.count({ where: { id: bOld } })).toBe(1);
  });

  it('refuses a caller without credentials with 401', async () => {
    expect((await call('POST', '/api/workspace/retention/sweep', undefined, {})).status).toBe(401);
  });

  it("cannot sweep another workspace by naming it (mass assignment), nor with malformed or oversized bodies", async () => {
    const bearer = await token(tenantA, people.adminA, 'Kluis.Admin');
    const b = await workspaceOf(tenantB);
    const bOld = await oldLoginAttempt(b, 41);
    for (const body of [{ workspaceId: b }, { tenantId: tenantB }, [], 'null', '{"a":', `{"x":"${'y'.repeat(2_000_000)}"}`]) {
      const r = await call('POST', '/api/workspace/retention/sweep', bearer, body);
      expect([400, 413]).toContain(r.status);
    }
    const wrongType = await call('POST', '/api/workspace/retention/sweep', bearer, 'workspaceId=1', { 'content-type': 'application/x-www-form-urlencoded' });
    expect(wrongType.status).toBe(415);
    expect(await db.loginAttempt.count({ where: { id: bOld } })).toBe(1);
  });
});

describe('workspace termination', () => {
  it('reads the command line strictly', () => {
    expect(parseTerminateArgs(['--tenant', tenantA.toUpperCase()])).toEqual({ tenantId: tenantA, undo: false });
    expect(parseTerminateArgs(['--tenant', tenantA, '--undo'])).toEqual({ tenantId: tenantA, undo: true });
    for (const argv of [[], ['--tenant'], ['--tenant', 'contoso'], ['--tenant', `${tenantA}' OR 1=1`], ['--tenant', tenantA, '--tenant', tenantB], ['--tenant', tenantA, '--force'], [tenantA]]) {
      expect(parseTerminateArgs(argv)).toHaveProperty('problem');
    }
  });

  it('marks a tenant terminated (the first date stands), refuses its sign-ins, and lifts the mark with --undo', async () => {
    const bearer = await token(tenantGone, people.adminGone, 'Kluis.Admin');
    expect((await call('GET', '/api/me', bearer)).status).toBe(200);

    const first = await terminateScript(['--tenant', tenantGone]);
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/terminated at .*erases it after/);
    const marked = await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantGone }, select: { terminatedAt: true } });
    expect(marked.terminatedAt).toBeInstanceOf(Date);
    // Erased 20 days later, as TERMINATED_WORKSPACE_ERASE_DAYS says.
    const eraseAfter = new Date(/erases it after (\S+?)\.$/m.exec(first.stdout)![1]!);
    expect(eraseAfter.getTime() - marked.terminatedAt!.getTime()).toBe(20 * 86_400_000);

    expect((await terminateScript(['--tenant', tenantGone])).code).toBe(0);
    expect((await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantGone }, select: { terminatedAt: true } })).terminatedAt).toEqual(marked.terminatedAt);

    // Sign-ins of the terminated tenant are refused like those of a tenant never connected.
    const refused = await call('GET', '/api/me', await token(tenantGone, people.adminGone, 'Kluis.Admin'));
    expect(refused.status).toBeGreaterThanOrEqual(401);
    expect(refused.status).toBeLessThanOrEqual(403);
    const principals = createPrincipals({ directory: createPrismaWorkspaceDirectory(db), audit: createPrismaAuditLog(db) });
    expect(await principals.isOnboarded(tenantGone)).toBe(false);
    await expect(principals.resolve({ tenantId: tenantGone, entraObjectId: people.adminGone, authMethod: 'entra-token' })).rejects.toMatchObject({ id: 'tenant_not_onboarded' });
    const gone = await workspaceOf(tenantGone);
    const member = await db.user.findFirstOrThrow({ where: { workspaceId: gone, entraObjectId: people.adminGone }, select: { id: true } });
    await expect(principals.resolveUser(gone, member.id, 'credentials')).rejects.toMatchObject({ id: 'tenant_not_onboarded' });
    // Other tenants carry on.
    expect((await call('GET', '/api/me', await token(tenantA, people.adminA, 'Kluis.Admin'))).status).toBe(200);

    const undo = await terminateScript(['--tenant', tenantGone, '--undo']);
    expect(undo.code).toBe(0);
    expect((await db.workspace.findUniqueOrThrow({ where: { tenantId: tenantGone }, select: { terminatedAt: true } })).terminatedAt).toBeNull();
    expect((await call('GET', '/api/me', await token(tenantGone, people.adminGone, 'Kluis.Admin'))).status).toBe(200);
  }, 120000);

  it('fails clearly for an unknown tenant or a malformed command, changing nothing', async () => {
    const unknown = await terminateScript(['--tenant', randomUUID()]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no workspace for tenant/);
    const malformed = await terminateScript(['--tenant', 'contoso.onmicrosoft.com']);
    expect(malformed.code).toBe(2);
    expect(malformed.stderr).toMatch(/not a tenant id/);
  }, 120000);
});
