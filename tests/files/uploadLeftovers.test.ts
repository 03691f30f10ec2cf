/**
 * The uploads housekeeping as Kluis runs it: an upload over real HTTP fails while the search index
 * is down and leaves its document record behind; the scheduled `uploads.housekeeping` job (run
 * here through Kluis's own job queue rather than after its first hour) removes it once it is past
 * the grace period, logs ids and counts only, and counts it on /metrics. The reconciler's own rules
 * and the stores going down under it are drilled in tests/operations/faults.sync.test.ts.
 *
 * This Kluis keeps its job queue in a Redis database of its own: on the shared test database's
 * queue another test's Kluis (a replica, as far as the queue knows) could take the job, and its
 * log lines and counter would not be this one's.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Queue } from 'bullmq';
import { createLogger } from '../../api/logger';
import { UPLOAD_LEFTOVER_GRACE_MS } from '../../api/knowledge/uploadLeftovers';
import { startFakeEntraIssuer, type FakeEntraIssuer } from '../fakes/entraIssuer';
import { openTestDatabase, testRedisUrl } from '../support/database';
import { injectIndexFault, type IndexFault } from '../support/faults';
import { startTestKluis } from '../support/kluis';

const tenant = randomUUID();
const REDIS_URL = `${testRedisUrl()}/6`;
const db = openTestDatabase();
const logLines: string[] = [];
const FILE_NAME = 'quarterly-secrets.txt';
const CONTENT = 'The travel budget for the third quarter is 41,500 euro.\n';
let issuer: FakeEntraIssuer;
let kluis: Awaited<ReturnType<typeof startTestKluis>>;
let fault: IndexFault;
let workspaceId: string;

beforeAll(async () => {
  issuer = await startFakeEntraIssuer();
  kluis = await startTestKluis(
    { LOCAL_TENANT_ID: randomUUID(), ONBOARD_TENANTS: `${tenant}=Contoso Leftovers`, ...issuer.kluisSettings(), MASTER_KEY: randomBytes(32).toString('hex'), REDIS_URL },
    { logger: createLogger('info', { write: (line: string) => void logLines.push(line) }) },
  );
  fault = injectIndexFault(kluis.modules.index);
  workspaceId = (await db.workspace.findUniqueOrThrow({ where: { tenantId: tenant } })).id;
}, 60_000);

afterEach(() => fault.up());

afterAll(async () => {
  await kluis?.stop();
  await issuer?.close();
  await db.workspace.deleteMany({ where: { tenantId: tenant } });
  await db.$disconnect();
});

async function upload(): Promise<number> {
  const boundary = `----kluis${randomBytes(8).toString('hex')}`;
  const body = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${FILE_NAME}"\r\nContent-Type: text/plain\r\n\r\n${CONTENT}\r\n--${boundary}--\r\n`);
  const response = await fetch(`${kluis.url}/api/knowledge/uploads`, {
    method: 'POST',
    headers: { authorization: `Bearer ${await issuer.bearerFor(tenant, randomUUID(), ['Kluis.Manager'])}`, 'content-type': `multipart/form-data; boundary=${boundary}` },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

async function leftoversRemovedMetric(): Promise<number | undefined> {
  const text = await (await fetch(`${kluis.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('kluis_upload_leftovers_removed_total '));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

async function housekeeping(): Promise<void> {
  await kluis.modules.jobs.enqueue('uploads.housekeeping', {});
  await kluis.modules.jobs.drain(['uploads.housekeeping'], 30_000);
}

it('is scheduled hourly and removes the record a failed upload left behind once it is an hour old, counting it by id only', async () => {
  const scheduled = new Queue('uploads.housekeeping', { connection: { url: REDIS_URL }, prefix: 'kluis' });
  try {
    expect(await scheduled.getJobScheduler('uploads-housekeeping')).toMatchObject({ every: 3_600_000, name: 'uploads.housekeeping' });
  } finally {
    await scheduled.close();
  }
  const metricBefore = await leftoversRemovedMetric();
  expect(metricBefore).toBeDefined();

  // The index fails the chunk write and the clean-up after it: the pending record stays.
  fault.downAt('replaceDocument', 1);
  expect(await upload()).toBe(503);
  fault.up();
  const [left] = await db.document.findMany({ where: { workspaceId }, select: { id: true, sourceKind: true, contentHash: true } });
  expect(left).toMatchObject({ sourceKind: 'upload', contentHash: 'pending' });
  expect(await db.upload.count({ where: { workspaceId } })).toBe(0);

  // Within the grace period it stays: it could be an upload still writing.
  await housekeeping();
  expect(await db.document.count({ where: { workspaceId, id: left!.id } })).toBe(1);

  // An hour after its last write, the next run removes it and a finished upload stays.
  expect(await upload()).toBe(201);
  await db.document.updateMany({ where: { workspaceId }, data: { updatedAt: new Date(Date.now() - UPLOAD_LEFTOVER_GRACE_MS - 60_000) } });
  logLines.length = 0;
  await housekeeping();
  expect(await db.document.count({ where: { workspaceId, id: left!.id } })).toBe(0);
  expect(await db.document.count({ where: { workspaceId } })).toBe(1);
  expect(await db.upload.count({ where: { workspaceId } })).toBe(1);

  const logged = logLines.filter((l) => l.includes('leftovers of failed uploads removed'));
  expect(logged).toHaveLength(1);
  expect(logged[0]).toContain(left!.id);
  for (const secret of [FILE_NAME, 'quarterly', 'travel budget']) expect(logged[0]).not.toContain(secret);
  expect(await leftoversRemovedMetric()).toBe(metricBefore! + 1);
});
