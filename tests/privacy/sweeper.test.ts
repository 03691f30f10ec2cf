/**
 * The retention sweeper against a real MariaDB: which conversations, uploads, login attempts and
 * terminated workspaces each rule selects, at the exact boundaries, with the clock injected. The
 * erasure engine is recorded (its own suite proves the erasure); the selection queries are real.
 */
import { randomUUID } from 'node:crypto';
import type { AuditEventInput } from '../../api/audit/ports';
import { fail } from '../../api/errors';
import type { Eraser, ErasureJobView, ErasureScope, RetentionPeriods } from '../../api/privacy/ports';
import { createMariadbSweepLock } from '../../api/privacy/prismaSweeperLock';
import { createPrismaSweeperSelection } from '../../api/privacy/prismaSweeperSelection';
import { RETENTION_DEFAULTS } from '../../api/privacy/retentionPolicy';
import { createRetentionSweeper, DAY_MS, type RetentionSweeperDeps, type SweepLock } from '../../api/privacy/sweeper';
import type { Principal } from '../../api/tenancy/principal';
import { openTestDatabase, testDatabaseUrl } from '../support/database';

const db = openTestDatabase();
const NOW = new Date('2026-12-06T12:00:00.000Z');
const ago = (days: number, ms = 0) => new Date(NOW.getTime() - days * DAY_MS - ms);
const created: string[] = [];

async function workspace(terminatedAt: Date | null = null): Promise<string> {
  const id = randomUUID();
  await db.workspace.create({ data: { id, tenantId: randomUUID(), name: 'Sweep test', terminatedAt } });
  created.push(id);
  return id;
}

/** A conversation whose messages were written at `messagesAt` (none: an empty conversation created at `createdAt`). */
async function conversation(workspaceId: string, createdAt: Date, messagesAt: Date[] = []): Promise<string> {
  const id = randomUUID();
  await db.conversation.create({ data: { id, workspaceId, channel: 'test', externalId: id, createdAt } });
  for (const at of messagesAt) await db.message.create({ data: { id: randomUUID(), workspaceId, conversationId: id, role: 'user', text: 'private question', createdAt: at } });
  return id;
}

async function upload(workspaceId: string, createdAt: Date): Promise<string> {
  const id = randomUUID();
  await db.upload.create({ data: { id, workspaceId, fileName: 'contract.pdf', mimeType: 'application/pdf', kind: 'document', sizeBytes: 10, contentHash: '0'.repeat(64), indexStatus: 'indexed', createdAt } });
  return id;
}

async function loginAttempt(workspaceId: string | null, createdAt: Date): Promise<string> {
  const id = randomUUID();
  await db.loginAttempt.create({ data: { id, workspaceId, ip: '203.0.113.7', method: 'password', outcome: 'wrong-password', createdAt } });
  return id;
}

interface Recorded {
  scope: ErasureScope;
  reason: string;
}

/** The records an erasure scope names (a batch names many). */
const targetsOf = (s: ErasureScope): string[] =>
  s.kind === 'conversation' ? [s.conversationId] : s.kind === 'upload' ? [s.uploadId] : s.kind === 'conversations' ? s.conversationIds : s.kind === 'uploads' ? s.uploadIds : s.kind === 'user' ? [s.userId] : [s.workspaceId];

/** Records every erasure; `failOn` makes a request naming an id throw, `failRunOf` makes its job end failed. */
function recordingEraser(options: { failOn?: Set<string>; failRunOf?: Set<string>; gate?: Promise<void> } = {}): Pick<Eraser, 'request' | 'run'> & { requests: Recorded[]; runs: string[] } {
  const requests: Recorded[] = [];
  const runs: string[] = [];
  const jobs = new Map<string, ErasureScope>();
  const hits = (set: Set<string> | undefined, s: ErasureScope) => targetsOf(s).some((id) => set?.has(id));
  const view = (jobId: string, scope: ErasureScope, status: ErasureJobView['status']): ErasureJobView => ({ jobId, scope, status, steps: [], requestedAt: NOW.toISOString() });
  return {
    requests,
    runs,
    async request(scope, requestedBy) {
      if (options.gate) await options.gate;
      requests.push({ scope, reason: requestedBy.reason });
      if (hits(options.failOn, scope)) fail('store_unavailable', 'test: erasure request refused');
      const jobId = randomUUID();
      jobs.set(jobId, scope);
      return view(jobId, scope, 'queued');
    },
    async run(jobId) {
      runs.push(jobId);
      const scope = jobs.get(jobId)!;
      return view(jobId, scope, hits(options.failRunOf, scope) ? 'failed' : 'done');
    },
  };
}

/** Every record the sweeper asked to erase in the workspace, once each (a record retried alone after its batch failed counts once). */
const erasedIn = (eraser: { requests: Recorded[] }, workspaceId: string) => [...new Set(eraser.requests.filter((r) => r.scope.workspaceId === workspaceId).flatMap((r) => targetsOf(r.scope)))].sort();

function sweeperWith(policies: Map<string, Partial<RetentionPeriods>>, eraser: Pick<Eraser, 'request' | 'run'>, extra: Partial<RetentionSweeperDeps> = {}) {
  const events: AuditEventInput[] = [];
  const freeLock: SweepLock = { runExclusive: async (work) => ({ ran: true, result: await work() }) };
  const sweeper = createRetentionSweeper({
    selection: createPrismaSweeperSelection(db),
    policies: { effective: async (id) => ({ ...RETENTION_DEFAULTS, ...policies.get(id) }) },
    eraser,
    audit: { record: async (e) => void events.push(e) },
    lock: freeLock,
    unownedLoginLogDays: 37,
    terminatedWorkspaceEraseDays: 29,
    now: () => NOW,
    ...extra,
  });
  return { sweeper, events };
}


afterAll(async () => {
  await db.loginAttempt.deleteMany({ where: { workspaceId: { in: created } } });
  await db.workspace.deleteMany({ where: { id: { in: created } } });
  await db.$disconnect();
});

describe('conversationDays: days after the last message', () => {
  it('erases a conversation whose last message is N days + 1 ms old and keeps one exactly N days old', async () => {
    const a = await workspace();
    const b = await workspace();
    const exactly = await conversation(a, ago(90), [ago(60), ago(30)]);
    const overBy1ms = await conversation(a, ago(90), [ago(60), ago(30, 1)]);
    const oldButActive = await conversation(a, ago(400), [ago(400), ago(1)]);
    const emptyOld = await conversation(a, ago(30, 1));
    const emptyExactly = await conversation(a, ago(30));
    const otherWorkspace = await conversation(b, ago(400), [ago(400)]);
    const eraser = recordingEraser();
    const { sweeper } = sweeperWith(new Map([[a, { conversationDays: 30 }]]), eraser);

    const report = await sweeper.sweepAll();

    expect(erasedIn(eraser, a)).toEqual([overBy1ms, emptyOld].sort());
    expect(erasedIn(eraser, a)).not.toEqual(expect.arrayContaining([exactly, oldButActive, emptyExactly]));
    // B keeps conversations (the default): its 400-day-old conversation is untouched.
    expect(erasedIn(eraser, b)).toEqual([]);
    expect(eraser.requests.filter((r) => r.scope.workspaceId === a).every((r) => r.reason === 'retention' && r.scope.kind === 'conversations')).toBe(true);
    // One batch for the rule: both records in one erasure job.
    expect(eraser.requests.filter((r) => r.scope.workspaceId === a)).toHaveLength(1);
    expect(report.workspaces.find((w) => w.workspaceId === a)?.removed.conversationDays).toBe(2);
    expect(eraser.runs).toHaveLength(eraser.requests.length);
    void otherWorkspace;
  });

  it('keeps every conversation when the period is "keep" (null)', async () => {
    const a = await workspace();
    await conversation(a, ago(3650), [ago(3650)]);
    const eraser = recordingEraser();
    const { sweeper } = sweeperWith(new Map([[a, { conversationDays: null, inactiveConversationDays: null }]]), eraser);
    await sweeper.sweepAll();
    expect(erasedIn(eraser, a)).toEqual([]);
  });
});

describe('inactiveConversationDays: clean-up of idle conversations', () => {
  it('erases at N days + 1 ms without a message, keeps at exactly N days, and does nothing when "off"', async () => {
    const a = await workspace();
    const off = await workspace();
    const idle = await conversation(a, ago(20), [ago(10, 1)]);
    const exactly = await conversation(a, ago(20), [ago(10)]);
    await conversation(off, ago(900), [ago(900)]);
    const eraser = recordingEraser();
    const { sweeper } = sweeperWith(new Map([[a, { inactiveConversationDays: 10 }], [off, { inactiveConversationDays: null }]]), eraser);
    const report = await sweeper.sweepAll();
    expect(erasedIn(eraser, a)).toEqual([idle]);
    expect(erasedIn(eraser, a)).not.toContain(exactly);
    expect(erasedIn(eraser, off)).toEqual([]);
    expect(report.workspaces.find((w) => w.workspaceId === a)?.removed).toMatchObject({ inactiveConversationDays: 1, conversationDays: 0 });
  });

  it('erases a conversation both rules select only once, under the rule that selected it first', async () => {
    const a = await workspace();
    const veryOld = await conversation(a, ago(100), [ago(40)]);
    const idle = await conversation(a, ago(100), [ago(20)]);
    const eraser = recordingEraser();
    const { sweeper } = sweeperWith(new Map([[a, { conversationDays: 30, inactiveConversationDays: 10 }]]), eraser);
    const report = await sweeper.sweepAll();
    expect(erasedIn(eraser, a)).toEqual([veryOld, idle].sort());
    expect(report.workspaces.find((w) => w.workspaceId === a)?.removed).toMatchObject({ conversationDays: 1, inactiveConversationDays: 1 });
  });
});

describe('uploadedFileDays', () => {
  it('erases an upload stored N days + 1 ms ago, keeps one stored exactly N days ago, per workspace period', async () => {
    const a = await workspace();
    const b = await workspace();
    const old = await upload(a, ago(180, 1));
    const exactly = await upload(a, ago(180));
    const bOld = await upload(b, ago(200));
    const eraser = recordingEraser();
    // A runs on the default (180 days); B keeps files a year.
    const { sweeper } = sweeperWith(new Map([[b, { uploadedFileDays: 365 }]]), eraser);
    await sweeper.sweepAll();
    expect(erasedIn(eraser, a)).toEqual([old]);
    expect(erasedIn(eraser, a)).not.toContain(exactly);
    expect(erasedIn(eraser, b)).not.toContain(bOld);
    expect(eraser.requests.find((r) => r.scope.workspaceId === a)).toEqual({ scope: { kind: 'uploads', workspaceId: a, uploadIds: [old] }, reason: 'retention' });
  });
});

describe('loginLogDays: login attempts purged directly', () => {
  it("purges each workspace's attempts after its own period and the rest after the global one", async () => {
    const a = await workspace();
    const b = await workspace();
    const aKept = await loginAttempt(a, ago(7));
    const aGone = await loginAttempt(a, ago(7, 1));
    const bKept = await loginAttempt(b, ago(37));
    const bGone = await loginAttempt(b, ago(37, 1));
    const bYoung = await loginAttempt(b, ago(8));
    const unownedKept = await loginAttempt(null, ago(37));
    const unownedGone = await loginAttempt(null, ago(37, 1));
    // An attempt naming a workspace that no longer exists (erased) falls under the global period.
    const orphanGone = await loginAttempt(randomUUID(), ago(37, 1));
    const orphanKept = await loginAttempt(randomUUID(), ago(36));
    const { sweeper } = sweeperWith(new Map([[a, { loginLogDays: 7 }]]), recordingEraser());

    const report = await sweeper.sweepAll();

    const left = new Set((await db.loginAttempt.findMany({ where: { id: { in: [aKept, aGone, bKept, bGone, bYoung, unownedKept, unownedGone, orphanGone, orphanKept] } }, select: { id: true } })).map((r) => r.id));
    expect([...left].sort()).toEqual([aKept, bKept, bYoung, unownedKept, orphanKept].sort());
    expect(report.workspaces.find((w) => w.workspaceId === a)?.removed.loginLogDays).toBe(1);
    expect(report.workspaces.find((w) => w.workspaceId === b)?.removed.loginLogDays).toBe(1);
    expect(report.unownedLoginAttemptsPurged).toBeGreaterThanOrEqual(2);
    await db.loginAttempt.deleteMany({ where: { id: { in: [unownedKept, orphanKept] } } });
  });
});

describe('upkeep with the same periods', () => {
  it("erases audit IPs after each workspace's login log period, prunes audit events and exports, and reports a failing step", async () => {
    const a = await workspace();
    const b = await workspace();
    const calls: string[] = [];
    const upkeep: RetentionSweeperDeps['upkeep'] = {
      auditRetentionDays: 365,
      audit: {
        eraseIpsOlderThan: async (cutoff, { workspaceId }) => (calls.push(`ips ${workspaceId} ${cutoff.toISOString()}`), 0),
        pruneOlderThan: async (cutoff, { workspaceId }) => {
          calls.push(`events ${workspaceId} ${cutoff.toISOString()}`);
          return { deleted: 0, failed: workspaceId === b ? [{ workspaceId: b }] : [] };
        },
      },
      exports: { purgeExpiredExports: async (workspaceId) => (calls.push(`exports ${workspaceId}`), 0) },
    };
    const { sweeper } = sweeperWith(new Map([[a, { loginLogDays: 7 }]]), recordingEraser(), { upkeep });

    const report = await sweeper.sweepAll();

    expect(calls).toEqual(expect.arrayContaining([`ips ${a} ${ago(7).toISOString()}`, `ips ${b} ${ago(37).toISOString()}`, `events ${a} ${ago(365).toISOString()}`, `exports ${a}`, `exports ${b}`]));
    expect(report.workspaces.find((w) => w.workspaceId === a)?.failures).toEqual([]);
    // A chain that does not verify is never pruned; the sweep says so and goes on with the exports.
    expect(report.workspaces.find((w) => w.workspaceId === b)?.failures).toEqual([{ rule: 'upkeep', workspaceId: b, targetId: 'auditEvents', error: 'internal' }]);
  });
});

describe('terminated workspaces', () => {
  it('requests a workspace erasure N days + 1 ms after termination, not at exactly N days, and never for active ones', async () => {
    const due = await workspace(ago(29, 1));
    const notYet = await workspace(ago(29));
    const active = await workspace();
    const eraser = recordingEraser();
    const { sweeper } = sweeperWith(new Map(), eraser);
    const report = await sweeper.sweepAll();
    const workspaceErasures = eraser.requests.filter((r) => r.scope.kind === 'workspace');
    expect(workspaceErasures.filter((r) => [due, notYet, active].includes(r.scope.workspaceId))).toEqual([{ scope: { kind: 'workspace', workspaceId: due }, reason: 'termination' }]);
    expect(report.terminated.erased).toBeGreaterThanOrEqual(1);
  });

  it('does not erase a terminated workspace again once its termination erasure is done, unless that erasure predates the termination', async () => {
    const erasedOnce = await workspace(ago(40));
    const erasureRow = (requestedAt: Date, status: string) => ({
      id: randomUUID(), workspaceId: erasedOnce, tenantId: randomUUID(), scopeKind: 'workspace', plan: {}, reason: 'termination', status, steps: [], requestedAt,
    });
    await db.erasureJob.create({ data: erasureRow(ago(35), 'failed') });
    const first = recordingEraser();
    await sweeperWith(new Map(), first).sweeper.sweepAll();
    expect(first.requests.filter((r) => r.scope.workspaceId === erasedOnce)).toHaveLength(1);

    await db.erasureJob.create({ data: erasureRow(ago(10), 'done') });
    const second = recordingEraser();
    await sweeperWith(new Map(), second).sweeper.sweepAll();
    expect(second.requests.filter((r) => r.scope.workspaceId === erasedOnce)).toHaveLength(0);

    // An erasure finished before the termination (the customer came back and left again) does not count.
    await db.erasureJob.updateMany({ where: { workspaceId: erasedOnce, status: 'done' }, data: { requestedAt: ago(45) } });
    const third = recordingEraser();
    await sweeperWith(new Map(), third).sweeper.sweepAll();
    expect(third.requests.filter((r) => r.scope.workspaceId === erasedOnce)).toHaveLength(1);
    await db.erasureJob.deleteMany({ where: { workspaceId: erasedOnce } });
  });
});

describe('batches', () => {
  it('erases the expired records of a rule in batches of batchSize, one job each, and retries only a failing batch record by record', async () => {
    const a = await workspace();
    const expired: string[] = [];
    for (let i = 0; i < 5; i++) expired.push(await conversation(a, ago(60), [ago(40, i)]));
    const kept = await conversation(a, ago(60), [ago(29)]);
    // Uploads are batched the same way; not here, because the default upload period would let the
    // scheduled sweep of another test's Kluis on this database erase them meanwhile.
    // Longest idle first: expired[4] and expired[3] form the first batch, so the broken record
    // always shares its batch with a healthy one.
    const broken = expired[3]!;
    const eraser = recordingEraser({ failRunOf: new Set([broken]) });
    const { sweeper } = sweeperWith(new Map([[a, { conversationDays: 30 }]]), eraser, { batchSize: 2 });

    const report = await sweeper.sweepAll();

    const requests = eraser.requests.filter((r) => r.scope.workspaceId === a).map((r) => r.scope);
    const batches = requests.filter((s) => s.kind === 'conversations').map((s) => (s.kind === 'conversations' ? s.conversationIds : []));
    expect(batches).toEqual([[expired[4], expired[3]], [expired[2], expired[1]], [expired[0]]]);
    expect(batches.flat()).not.toContain(kept);
    // Only the batch holding the broken record was retried, record by record.
    expect(requests.filter((s) => s.kind === 'conversation').map((s) => (s.kind === 'conversation' ? s.conversationId : ''))).toEqual([expired[4], expired[3]]);
    const mine = report.workspaces.find((w) => w.workspaceId === a)!;
    expect(mine.removed).toMatchObject({ conversationDays: 4 });
    expect(mine.failures).toEqual([{ rule: 'conversationDays', workspaceId: a, targetId: broken, error: 'erasure_failed' }]);
    expect(eraser.runs).toHaveLength(eraser.requests.length);
  });

  it('counts a record its failed batch already erased as removed when the retry finds it gone', async () => {
    const a = await workspace();
    const first = await conversation(a, ago(60), [ago(40)]);
    const second = await conversation(a, ago(60), [ago(41)]);
    const eraser = recordingEraser();
    const gone: Pick<Eraser, 'request' | 'run'> = {
      async request(scope, by) {
        // The batch erased its rows, then its job ended failed (residue elsewhere); the retries find nothing.
        if (scope.kind === 'conversation') fail('not_found', 'test: already erased');
        return eraser.request(scope, by);
      },
      async run(jobId) {
        return { ...(await eraser.run(jobId)), status: 'failed' };
      },
    };
    const { sweeper } = sweeperWith(new Map([[a, { conversationDays: 30 }]]), gone);
    const report = await sweeper.sweepAll();
    const mine = report.workspaces.find((w) => w.workspaceId === a)!;
    expect(mine.removed.conversationDays).toBe(2);
    expect(mine.failures).toEqual([]);
    expect(erasedIn(eraser, a)).toEqual([first, second].sort());
  });
});

describe('failures', () => {
  it('reports a failing erasure (refused request, failed job) and carries on with the rest', async () => {
    const a = await workspace();
    const refused = await conversation(a, ago(50), [ago(50)]);
    const failedJob = await conversation(a, ago(50), [ago(49)]);
    const fine = await conversation(a, ago(50), [ago(48)]);
    const oldUpload = await upload(a, ago(181));
    const terminatedRefused = await workspace(ago(40));
    const eraser = recordingEraser({ failOn: new Set([refused, terminatedRefused]), failRunOf: new Set([failedJob]) });
    const { sweeper, events } = sweeperWith(new Map([[a, { conversationDays: 30 }]]), eraser);

    const report = await sweeper.sweepAll();

    const mine = report.workspaces.find((w) => w.workspaceId === a)!;
    expect(mine.removed).toMatchObject({ conversationDays: 1, uploadedFileDays: 1 });
    expect(mine.failures).toEqual(
      expect.arrayContaining([
        { rule: 'conversationDays', workspaceId: a, targetId: refused, error: 'store_unavailable' },
        { rule: 'conversationDays', workspaceId: a, targetId: failedJob, error: 'erasure_failed' },
      ]),
    );
    expect(mine.failures).toHaveLength(2);
    expect(erasedIn(eraser, a)).toEqual([refused, failedJob, fine, oldUpload].sort());
    // The failed batch of three was retried record by record; the upload's batch went through at once.
    expect(eraser.requests.filter((r) => r.scope.workspaceId === a).map((r) => r.scope.kind)).toEqual(['conversations', 'conversation', 'conversation', 'conversation', 'uploads']);
    expect(report.terminated.failures).toContainEqual({ rule: 'terminatedWorkspace', workspaceId: terminatedRefused, targetId: terminatedRefused, error: 'store_unavailable' });
    expect(report.totals.failures).toBeGreaterThanOrEqual(3);
    // Audited with counts, never content.
    const event = events.find((e) => e.workspaceId === a)!;
    expect(event).toMatchObject({ kind: 'retention.swept', outcome: 'failure', detail: { conversationDays: 1, uploadedFileDays: 1, failures: 2, trigger: 'schedule' } });
    expect(JSON.stringify(events)).not.toContain('private question');
  });
});

describe('on demand and on schedule', () => {
  const principal = (workspaceId: string, role: 'admin' | 'user'): Principal => ({ workspaceId, tenantId: randomUUID(), userId: randomUUID(), roles: [role], authMethod: 'credentials' });

  it("sweeps only the admin's own workspace and refuses a non-admin before touching anything", async () => {
    const a = await workspace();
    const b = await workspace();
    const aOld = await upload(a, ago(181));
    await upload(b, ago(181));
    const eraser = recordingEraser();
    const { sweeper, events } = sweeperWith(new Map(), eraser);

    await expect(sweeper.sweepWorkspaceOf(principal(a, 'user'))).rejects.toMatchObject({ id: 'forbidden' });
    expect(eraser.requests).toHaveLength(0);

    const admin = principal(a, 'admin');
    const sweep = await sweeper.sweepWorkspaceOf(admin);
    expect(sweep).toMatchObject({ workspaceId: a, removed: { uploadedFileDays: 1 }, failures: [] });
    expect(eraser.requests.map((r) => r.scope)).toEqual([{ kind: 'uploads', workspaceId: a, uploadIds: [aOld] }]);
    expect(events).toContainEqual(expect.objectContaining({ workspaceId: a, actorUserId: admin.userId, kind: 'retention.swept', outcome: 'success', detail: expect.objectContaining({ trigger: 'admin' }) }));
  });

  it('never runs two scheduled sweeps at once in one process', async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const a = await workspace();
    await upload(a, ago(181));
    const eraser = recordingEraser({ gate });
    const { sweeper } = sweeperWith(new Map(), eraser);
    const first = sweeper.sweepOnSchedule();
    expect(await sweeper.sweepOnSchedule()).toBeUndefined();
    open();
    expect(await first).toBeDefined();
    // Once the first has finished, the next tick runs again.
    expect(await sweeper.sweepOnSchedule()).toBeDefined();
  });

  it('skips a scheduled sweep while another replica holds the MariaDB lock, and runs once it is released', async () => {
    const name = `kluis_sweeper_test_${randomUUID().slice(0, 8)}`;
    const otherReplica = createMariadbSweepLock(testDatabaseUrl(), name);
    const { sweeper } = sweeperWith(new Map(), recordingEraser(), { lock: createMariadbSweepLock(testDatabaseUrl(), name) });
    const whileHeld = await otherReplica.runExclusive(() => sweeper.sweepOnSchedule());
    expect(whileHeld).toEqual({ ran: true, result: undefined });
    expect(await sweeper.sweepOnSchedule()).toMatchObject({ startedAt: NOW.toISOString() });
  });

  it('releases the MariaDB lock when a sweep fails, so the next one is not blocked', async () => {
    const name = `kluis_sweeper_test_${randomUUID().slice(0, 8)}`;
    const lock = createMariadbSweepLock(testDatabaseUrl(), name);
    await expect(lock.runExclusive(async () => fail('store_unavailable', 'test: the sweep broke'))).rejects.toMatchObject({ id: 'store_unavailable' });
    expect(await createMariadbSweepLock(testDatabaseUrl(), name).runExclusive(async () => 'ran')).toEqual({ ran: true, result: 'ran' });
  });

  it('reports an unreachable database for the lock as store_unavailable', async () => {
    const url = new URL(testDatabaseUrl());
    url.password = 'not-the-password';
    await expect(createMariadbSweepLock(url.toString()).runExclusive(async () => 'never')).rejects.toMatchObject({ id: 'store_unavailable' });
  });
});
