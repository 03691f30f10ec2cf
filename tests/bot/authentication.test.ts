/**
 * With BOT_ID set, Bot Framework authentication is on: botbuilder must see a valid Bot Framework
 * JWT on every activity, and Kluis refuses anything else before it reads the tenant or stores
 * anything.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { loadConfig } from '../../api/config';
import { isKluisError } from '../../api/errors';
import { startKluis } from '../../api/main';
import { openTestDatabase } from '../support/database';
import { startTestKluis } from '../support/kluis';
import { startFakeBotFrameworkIssuer } from '../fakes/botFrameworkIssuer';

const tenantId = randomUUID();
const db = openTestDatabase();
let kluis: Awaited<ReturnType<typeof startTestKluis>>;

const activity = () => ({
  type: 'message',
  id: randomUUID(),
  channelId: 'msteams',
  serviceUrl: 'https://smba.trafficmanager.net/emea/',
  from: { id: '29:user', aadObjectId: randomUUID() },
  recipient: { id: '28:bot' },
  conversation: { id: `a:${randomUUID()}`, tenantId },
  channelData: { tenant: { id: tenantId } },
  text: 'How many days of leave do I get?',
});

async function messageCount(): Promise<number> {
  const rows = await db.$queryRawUnsafe<Array<{ n: bigint }>>('SELECT COUNT(*) AS n FROM Message');
  return Number(rows[0]!.n);
}

beforeAll(async () => {
  kluis = await startTestKluis({
    LOCAL_MODE: 'false',
    HOST: '127.0.0.1',
    BOT_ID: randomUUID(),
    BOT_PASSWORD: 'not-a-real-secret',
    BOT_TENANT_ID: randomUUID(),
    ONBOARD_TENANTS: `${tenantId}=Contoso`,
    MASTER_KEY: randomBytes(32).toString('hex'),
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

describe('Bot Framework authentication', () => {
  it.each([
    ['an unsigned request (no Authorization header)', undefined],
    ['a request with a malformed bearer token', 'Bearer not.a.jwt'],
    ['a request with an unsigned token (alg none)', `Bearer ${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: 'https://api.botframework.com', aud: 'x' })).toString('base64url')}.`],
    ['a request with a Basic credential', 'Basic dXNlcjpwYXNz'],
    ['a token signed with HS256 (key confusion)', `Bearer ${Buffer.from('{"alg":"HS256","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"iss":"https://api.botframework.com"}').toString('base64url')}.c2lnbmF0dXJl`],
  ])('refuses %s with 401 and stores nothing', async (_name, authorization) => {
    const before = await messageCount();
    const response = await fetch(`${kluis.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify(activity()),
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: { id: 'unauthenticated', message: 'Authentication is required.' } });
    expect(await messageCount()).toBe(before);
  });

  it('does not reveal whether a tenant is onboarded to an unauthenticated caller', async () => {
    const stranger = { ...activity(), channelData: { tenant: { id: randomUUID() } } };
    const response = await fetch(`${kluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(stranger) });
    expect(response.status).toBe(401);
  });

  it('listens where HOST says outside local mode', () => {
    expect(kluis.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });
});

describe('start-up without authentication', () => {
  it('refuses to start without BOT_ID unless local mode is explicit', async () => {
    expect(() => loadConfig({ DATABASE_URL: 'mysql://u:p@127.0.0.1:3306/kluis' }, { dotenv: false })).toThrow(/Setting BOT_ID: required unless LOCAL_MODE=true/);
    const config = loadConfig({ LOCAL_MODE: 'true' }, { dotenv: false });
    let error: unknown;
    try {
      await startKluis({ ...config, localMode: false, bot: { ...config.bot, appId: undefined } });
    } catch (e) {
      error = e;
    }
    expect(isKluisError(error, 'config_invalid')).toBe(true);
  });
});

describe('signed channel tokens (Bot Framework issuer served locally)', () => {
  let issuer: Awaited<ReturnType<typeof startFakeBotFrameworkIssuer>>;
  let signedKluis: Awaited<ReturnType<typeof startTestKluis>>;
  const botId = randomUUID();
  const serviceUrl = 'http://127.0.0.1:9/teams/';

  beforeAll(async () => {
    issuer = await startFakeBotFrameworkIssuer();
    signedKluis = await startTestKluis({
      LOCAL_MODE: 'false',
      HOST: '127.0.0.1',
      BOT_ID: botId,
      BOT_PASSWORD: 'not-a-real-secret',
      BOT_TENANT_ID: randomUUID(),
      BOT_OPENID_METADATA_URL: issuer.metadataUrl,
      BOT_SERVICE_URL_HOSTS: '127.0.0.1:9',
      ONBOARD_TENANTS: `${tenantId}=Contoso`,
      MASTER_KEY: randomBytes(32).toString('hex'),
    });
  }, 60000);

  afterAll(async () => {
    await signedKluis?.stop();
    await issuer?.close();
  });

  // A typing activity needs no reply, so these tests never call out to a connector.
  const typing = (overrides: Record<string, unknown> = {}) => ({ ...activity(), type: 'typing', text: undefined, serviceUrl, ...overrides });
  const postSigned = (body: unknown, token: string) =>
    fetch(`${signedKluis.url}/api/messages`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify(body) });

  it('accepts an activity signed by the channel for this bot', async () => {
    const response = await postSigned(typing(), await issuer.channelToken({ aud: botId, serviceurl: serviceUrl }));
    expect(response.status).toBe(200);
  });

  it('rejects a token whose serviceurl claim differs from the activity (reply redirection)', async () => {
    const token = await issuer.channelToken({ aud: botId, serviceurl: 'https://smba.trafficmanager.net/emea/' });
    expect((await postSigned(typing(), token)).status).toBe(401);
  });

  it('rejects a token for another bot (wrong audience)', async () => {
    expect((await postSigned(typing(), await issuer.channelToken({ aud: randomUUID(), serviceurl: serviceUrl }))).status).toBe(401);
  });

  it('rejects a token signed by a key the channel never published (forged signature)', async () => {
    expect((await postSigned(typing(), await issuer.channelToken({ aud: botId, serviceurl: serviceUrl }, 'stranger'))).status).toBe(401);
  });

  it('rejects a token from another issuer', async () => {
    expect((await postSigned(typing(), await issuer.channelToken({ aud: botId, serviceurl: serviceUrl, iss: 'https://evil.example' }))).status).toBe(401);
  });

  it('rejects an expired token', async () => {
    expect((await postSigned(typing(), await issuer.channelToken({ aud: botId, serviceurl: serviceUrl, expiresInSeconds: -600 }))).status).toBe(401);
  });

  it('refuses a correctly signed activity whose serviceUrl is not a channel host (allow list), recording a security event', async () => {
    const elsewhere = 'http://127.0.0.2:9/teams/';
    const response = await postSigned(typing({ serviceUrl: elsewhere }), await issuer.channelToken({ aud: botId, serviceurl: elsewhere }));
    expect(response.status).toBe(403);
    expect(((await response.json()) as { error: { id: string } }).error.id).toBe('service_url_not_allowed');
    expect(await db.securityEvent.count({ where: { tenantId, kind: 'bot.service_url_refused' } })).toBeGreaterThanOrEqual(1);
  });

  it('refuses a correctly signed activity from a tenant that is not onboarded', async () => {
    const stranger = randomUUID();
    const response = await postSigned(typing({ channelData: { tenant: { id: stranger } }, conversation: { id: 'x', tenantId: stranger } }), await issuer.channelToken({ aud: botId, serviceurl: serviceUrl }));
    expect(response.status).toBe(403);
  });
});

