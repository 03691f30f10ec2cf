/**
 * Teams SSO for the bot over real HTTP, against local stand-ins for every Microsoft service it
 * talks to: the channel's token issuer (inbound Bot Framework JWTs), the Bot Connector (replies)
 * and the Bot Framework Token Service (GetToken, GetSignInResource, token exchange, SignOut).
 *
 * With BOT_ID set, botbuilder also fetches an app token from Entra (client credentials at
 * login.microsoftonline.com/botframework.com) before it calls the Token Service or the Connector.
 * That step cannot be pointed at a local issuer from here: botbuilder's default credentials
 * factory builds its MSAL client with `new ConfidentialClientApplication({ auth })` only — no
 * network client, no agent, so a self-signed local HTTPS issuer cannot be trusted, and
 * NODE_EXTRA_CA_CERTS is read only at process start. So these tests place an app token in
 * botbuilder's own app-token cache (AppCredentials.cache, which it consults before MSAL), and
 * everything after that runs as in production: the token goes out as `Authorization: Bearer` on
 * every Token Service and Connector call, and the fake Token Service refuses any other credential.
 * Local mode (no BOT_ID) cannot stand in: botbuilder puts the bot's app id in every sign-in
 * request, so without one there is no sign-in at all (and BOT_OAUTH_CONNECTION requires BOT_ID).
 */
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AppCredentials, AuthenticationConstants } from 'botframework-connector';
import { loadConfig } from '../../api/config';
import { createLogger } from '../../api/logger';
import { startKluis, type Kluis } from '../../api/main';
import { cardText, startFakeConnector, type RecordedReply } from '../fakes/botConnector';
import { startFakeBotFrameworkIssuer } from '../fakes/botFrameworkIssuer';
import { startFakeBotTokenService, type FakeBotTokenService } from '../fakes/botTokenService';
import { openTestDatabase, testDatabaseUrl } from '../support/database';

const OAUTH_CARD = 'application/vnd.microsoft.card.oauth';
const CONNECTION = 'Kluis Graph';
const SIGNED_IN_EN = 'You are signed in; Kluis can now read the SharePoint files you may read.';
const SIGNED_IN_NL = 'Je bent aangemeld; Kluis kan nu de SharePoint-bestanden lezen die jij mag lezen.';

const db = openTestDatabase();
const tenantId = randomUUID();
const botId = randomUUID();
const appToken = `app-token-${randomBytes(24).toString('base64url')}`;

/** Every log line Kluis writes, at debug level, to check that no token ever reaches a log. */
const logLines: string[] = [];
/** Every HTTP answer Kluis gave to the channel and every reply it sent, to check that no token reaches one. */
const answers: string[] = [];

async function startKluisWith(env: Record<string, string>): Promise<Kluis & { dataDir: string }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-signin-'));
  const config = loadConfig(
    { LOCAL_MODE: 'true', PORT: '0', DATABASE_URL: testDatabaseUrl(), DATA_DIR: dataDir, KNOWLEDGE_WATCH: 'false', LOG_LEVEL: 'debug', ...env },
    { dotenv: false, cwd: path.resolve(__dirname, '..', '..') },
  );
  const kluis = await startKluis(config, { logger: createLogger('debug', { write: (line: string) => void logLines.push(line) }) });
  return {
    ...kluis,
    dataDir,
    async stop() {
      await kluis.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * botbuilder's process-wide app-token cache (private in its typings, read by AppCredentials.getToken
 * before MSAL), keyed by app id and audience as AppCredentials.tokenCacheKey builds it. Pinned to
 * botbuilder 4.23: if it moves, the bot turns fail loudly trying to reach login.microsoftonline.com.
 */
const appTokenCache = (AppCredentials as unknown as { cache: Map<string, { accessToken: string; expiresOn: Date }> }).cache;
const appTokenCacheKey = `${botId}${AuthenticationConstants.ToChannelFromBotOAuthScope}-cache`;

let issuer: Awaited<ReturnType<typeof startFakeBotFrameworkIssuer>>;
let connector: Awaited<ReturnType<typeof startFakeConnector>>;
let tokenService: FakeBotTokenService;
let kluis: Awaited<ReturnType<typeof startKluisWith>>;
const scriptedSecrets: string[] = [appToken];

interface TeamsUser {
  id: string;
  aadObjectId: string;
  name: string;
}

function newUser(): TeamsUser {
  return { id: `29:${randomUUID()}`, aadObjectId: randomUUID(), name: 'Alex Wilber' };
}

function activity(user: TeamsUser, conversationId: string, fields: Record<string, unknown>) {
  return {
    id: randomUUID(),
    channelId: 'msteams',
    serviceUrl: connector.serviceUrl,
    from: user,
    recipient: { id: `28:${botId}`, name: 'Kluis' },
    conversation: { id: conversationId, conversationType: 'personal', tenantId },
    channelData: { tenant: { id: tenantId } },
    ...fields,
  };
}

const message = (user: TeamsUser, conversationId: string, text: string) => activity(user, conversationId, { type: 'message', text });
const invoke = (user: TeamsUser, conversationId: string, name: string, value: unknown) => activity(user, conversationId, { type: 'invoke', name, value });

async function post(target: { url: string }, body: unknown, signed = true) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (signed) headers.authorization = `Bearer ${await issuer.channelToken({ aud: botId, serviceurl: connector.serviceUrl })}`;
  const response = await fetch(`${target.url}/api/messages`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await response.text();
  // The turn has finished when the answer arrives, so its replies have reached the connector.
  answers.push(text, JSON.stringify(connector.replies.map((r) => r.activity)));
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
}

function oauthCards(replies: RecordedReply[]) {
  return replies.flatMap((r) => r.activity.attachments ?? []).filter((a) => a.contentType === OAUTH_CARD);
}

function repliesText(replies: RecordedReply[]): string {
  return replies.map((r) => (r.activity.attachments ?? []).map((a) => cardText(a.content)).join('\n') + (r.activity.text ?? '')).join('\n');
}

/** Sends `signin` and returns the exchange id on the OAuth card Kluis sent back. */
async function startSignIn(user: TeamsUser, conversationId: string): Promise<string> {
  connector.reset();
  expect((await post(kluis, message(user, conversationId, 'signin'))).status).toBe(200);
  const [card] = oauthCards(await connector.waitForMessages(1));
  const id = (card?.content as { tokenExchangeResource?: { id?: string } } | undefined)?.tokenExchangeResource?.id;
  expect(typeof id).toBe('string');
  return id!;
}

beforeAll(async () => {
  issuer = await startFakeBotFrameworkIssuer();
  connector = await startFakeConnector();
  tokenService = await startFakeBotTokenService({ connectionName: CONNECTION, appToken });
  appTokenCache.set(appTokenCacheKey, { accessToken: appToken, expiresOn: new Date(Date.now() + 3600_000) });
  kluis = await startKluisWith({
    LOCAL_MODE: 'false',
    HOST: '127.0.0.1',
    BOT_ID: botId,
    BOT_PASSWORD: 'not-a-real-secret',
    BOT_TENANT_ID: randomUUID(),
    BOT_OPENID_METADATA_URL: issuer.metadataUrl,
    BOT_SERVICE_URL_HOSTS: new URL(connector.serviceUrl).host,
    BOT_OAUTH_CONNECTION: CONNECTION,
    BOT_OAUTH_URL: tokenService.url,
    ONBOARD_TENANTS: `${tenantId}=Contoso`,
    KNOWLEDGE_DIR: 'demo/knowledge',
    KNOWLEDGE_TENANT_ID: tenantId,
    MASTER_KEY: randomBytes(32).toString('hex'),
  });
}, 60000);

afterAll(async () => {
  await kluis?.stop();
  await Promise.all([issuer?.close(), connector?.close(), tokenService?.close()]);
  appTokenCache.delete(appTokenCacheKey);
  await db.workspace.deleteMany({ where: { tenantId } });
  await db.securityEvent.deleteMany({ where: { tenantId } });
  await db.$disconnect();
});

beforeEach(() => {
  connector.reset();
  tokenService.reset();
});

describe('signing in with Teams SSO (BOT_ID set, Bot Framework Token Service served locally)', () => {
  it.each(['signin', 'aanmelden'])('answers "%s" from a user without a token with an OAuth card carrying the connection and a token exchange resource', async (command) => {
    const user = newUser();
    expect((await post(kluis, message(user, `a:${randomUUID()}`, command))).status).toBe(200);
    const replies = await connector.waitForMessages(1);
    const [card] = oauthCards(replies);
    const content = card!.content as { connectionName: string; tokenExchangeResource: { id: string; uri: string }; buttons: Array<{ type: string; value: string }> };
    expect(content.connectionName).toBe(CONNECTION);
    expect(content.tokenExchangeResource.id).toBe(tokenService.issuedExchangeIds().at(-1));
    expect(content.tokenExchangeResource.uri).toBe(tokenService.exchangeUri);
    expect(content.buttons[0]).toMatchObject({ type: 'signin', value: expect.stringMatching(/^https:\/\//) });

    const getToken = tokenService.calls('api/usertoken/GetToken')[0]!;
    expect(getToken.query).toMatchObject({ userId: user.id, connectionName: CONNECTION, channelId: 'msteams' });
    expect(getToken.status).toBe(404);
    const resource = tokenService.calls('api/botsignin/GetSignInResource')[0]!;
    expect(JSON.parse(Buffer.from(resource.query.state!, 'base64').toString('utf8'))).toMatchObject({ connectionName: CONNECTION, msAppId: botId });
    // botbuilder authenticates as the bot to the Token Service and to the Connector.
    for (const request of tokenService.requests) expect(request.authorization).toBe(`Bearer ${appToken}`);
    expect(replies[0]!.authorization).toBe(`Bearer ${appToken}`);
  });

  it('exchanges a valid SSO token: the Token Service is asked, the invoke answered 200, and the user told they are signed in', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    const id = await startSignIn(user, conversationId);
    connector.reset();

    const response = await post(kluis, invoke(user, conversationId, 'signin/tokenExchange', { id, connectionName: CONNECTION, token: scripted.ssoToken }));
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ id, connectionName: CONNECTION });

    const exchange = tokenService.calls('api/usertoken/exchange')[0]!;
    expect(exchange).toMatchObject({ method: 'POST', query: { userId: user.id, connectionName: CONNECTION, channelId: 'msteams' }, body: { token: scripted.ssoToken }, status: 200 });
    const text = repliesText(await connector.waitForMessages(1));
    expect(text).toContain(SIGNED_IN_EN);
    expect(text).toContain(SIGNED_IN_NL);
    expect(tokenService.hasToken(user.id)).toBe(true);

    // Signed in now: `signin` confirms at once, from the token the Token Service holds, without a card.
    connector.reset();
    await post(kluis, message(user, conversationId, 'signin'));
    const again = await connector.waitForMessages(1);
    expect(oauthCards(again)).toHaveLength(0);
    expect(repliesText(again)).toContain(SIGNED_IN_EN);
  });

  it('completes sign-in from the sign-in page when SSO is not possible (signin/verifyState with the page code)', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    await startSignIn(user, conversationId);
    const code = tokenService.completeSignInPage(user.id);
    connector.reset();
    tokenService.reset();

    const response = await post(kluis, invoke(user, conversationId, 'signin/verifyState', { state: code }));
    expect(response.status).toBe(200);
    expect(tokenService.calls('api/usertoken/GetToken').some((r) => r.query.code === code && r.status === 200)).toBe(true);
    expect(repliesText(await connector.waitForMessages(1))).toContain(SIGNED_IN_EN);
  });

  it.each([
    ['400 (the token cannot be exchanged, e.g. consent missing)', 400],
    ['404 (nothing to exchange for this connection)', 404],
  ])('answers the invoke 412 when the Token Service answers %s, so Teams falls back to the sign-in card', async (_name, status) => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    const id = await startSignIn(user, conversationId);
    connector.reset();
    tokenService.failNext('api/usertoken/exchange', status);

    const response = await post(kluis, invoke(user, conversationId, 'signin/tokenExchange', { id, connectionName: CONNECTION, token: scripted.ssoToken }));
    expect(response.status).toBe(412);
    expect(response.body).toMatchObject({ id, connectionName: CONNECTION, failureDetail: expect.any(String) });
    expect(tokenService.calls('api/usertoken/exchange').map((r) => r.status)).toEqual([status]);
    expect(tokenService.hasToken(user.id)).toBe(false);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connector.messages()).toHaveLength(0);
  });

  it('answers 412 when the user has not consented yet (the exchange answers 400), without signing in', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id, consentRequired: true });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    const id = await startSignIn(user, conversationId);
    const response = await post(kluis, invoke(user, conversationId, 'signin/tokenExchange', { id, connectionName: CONNECTION, token: scripted.ssoToken }));
    expect(response.status).toBe(412);
    expect(tokenService.hasToken(user.id)).toBe(false);
  });

  it.each(['signout', 'afmelden'])('signs out on "%s": the Token Service SignOut is called and the next signin shows a card again', async (command) => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    const id = await startSignIn(user, conversationId);
    expect((await post(kluis, invoke(user, conversationId, 'signin/tokenExchange', { id, connectionName: CONNECTION, token: scripted.ssoToken }))).status).toBe(200);
    expect(tokenService.hasToken(user.id)).toBe(true);
    connector.reset();
    tokenService.reset();

    expect((await post(kluis, message(user, conversationId, command))).status).toBe(200);
    const signOut = tokenService.calls('api/usertoken/SignOut');
    expect(signOut).toHaveLength(1);
    expect(signOut[0]).toMatchObject({ method: 'DELETE', query: { userId: user.id, connectionName: CONNECTION, channelId: 'msteams' }, authorization: `Bearer ${appToken}` });
    expect(repliesText(await connector.waitForMessages(1))).toContain('You are signed out');
    expect(tokenService.hasToken(user.id)).toBe(false);

    await startSignIn(user, conversationId);
  });

  it('tells the user when sign-out cannot reach the Token Service instead of claiming success', async () => {
    tokenService.failNext('api/usertoken/SignOut', 401);
    await post(kluis, message(newUser(), `a:${randomUUID()}`, 'signout'));
    const text = repliesText(await connector.waitForMessages(1));
    expect(text).toContain('Sign-in is not available right now');
    expect(text).not.toContain('You are signed out');
  });

  it('mentions the sign-in commands in the help card', async () => {
    await post(kluis, message(newUser(), `a:${randomUUID()}`, 'help'));
    const text = repliesText(await connector.waitForMessages(1));
    expect(text).toContain('Type "signin"');
    expect(text).toContain('Typ "aanmelden"');
  });

  it('still answers an ordinary question from a signed-out user from the documents, without a sign-in card or any Token Service call', async () => {
    const user = newUser();
    const response = await post(kluis, message(user, `a:${randomUUID()}`, 'What is the maximum hotel rate per night in London on a business trip?'));
    expect(response.status).toBe(200);
    const replies = await connector.waitForMessages(1);
    expect(oauthCards(replies)).toHaveLength(0);
    // A personal chat: the answer streams, and its final message carries the text.
    expect((replies[0]!.activity.channelData as { streamType?: string }).streamType).toBe('final');
    expect(replies[0]!.activity.text).toContain('EUR 185 per night');
    expect(tokenService.requests).toHaveLength(0);
  });

  it('tells the user sign-in is unavailable when the Token Service refuses the bot (e.g. an expired bot secret), and logs only the status', async () => {
    const user = newUser();
    tokenService.failNext('api/botsignin/GetSignInResource', 401);
    const firstLine = logLines.length;
    expect((await post(kluis, message(user, `a:${randomUUID()}`, 'signin'))).status).toBe(200);
    const replies = await connector.waitForMessages(1);
    expect(oauthCards(replies)).toHaveLength(0);
    expect(repliesText(replies)).toContain('Sign-in is not available right now');
    const failure = logLines.slice(firstLine).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'bot sign-in could not start: Token Service call failed');
    expect(failure).toMatchObject({ status: 401 });
  });
});

describe('attacks on the token exchange', () => {
  const refusals = () => db.securityEvent.count({ where: { tenantId, kind: 'bot.sign_in_refused' } });

  it('refuses an exchange id Kluis never issued (forged or replayed invoke) with 412, without calling the Token Service', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    await startSignIn(user, conversationId);
    connector.reset();
    tokenService.reset();
    const before = await refusals();

    const response = await post(kluis, invoke(user, conversationId, 'signin/tokenExchange', { id: randomUUID(), connectionName: CONNECTION, token: scripted.ssoToken }));
    expect(response.status).toBe(412);
    expect(tokenService.requests).toHaveLength(0);
    expect(tokenService.hasToken(user.id)).toBe(false);
    expect(await refusals()).toBe(before + 1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connector.messages()).toHaveLength(0);
  });

  it('refuses an exchange with no sign-in started at all (unsolicited invoke), even when it names the teams-ai setting itself', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const response = await post(kluis, invoke(user, `a:${randomUUID()}`, 'signin/tokenExchange', { id: randomUUID(), connectionName: CONNECTION, token: scripted.ssoToken, settingName: 'graph' }));
    expect(response.status).toBe(412);
    expect(tokenService.requests).toHaveLength(0);
  });

  it("refuses another user's exchange id (cross-user replay of a sign-in card in a shared chat)", async () => {
    const owner = newUser();
    const intruder = newUser();
    const scripted = tokenService.addUser({ userId: intruder.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `19:${randomUUID()}@thread.v2`;
    const id = await startSignIn(owner, conversationId);
    tokenService.reset();

    const response = await post(kluis, invoke(intruder, conversationId, 'signin/tokenExchange', { id, connectionName: CONNECTION, token: scripted.ssoToken }));
    expect(response.status).toBe(412);
    expect(tokenService.requests).toHaveLength(0);
    expect(tokenService.hasToken(intruder.id)).toBe(false);
  });

  it('refuses an exchange id from another conversation (stale card reused elsewhere)', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const id = await startSignIn(user, `a:${randomUUID()}`);
    tokenService.reset();
    const response = await post(kluis, invoke(user, `a:${randomUUID()}`, 'signin/tokenExchange', { id, connectionName: CONNECTION, token: scripted.ssoToken }));
    expect(response.status).toBe(412);
    expect(tokenService.requests).toHaveLength(0);
  });

  it('refuses an exchange naming another OAuth connection (connection confusion) with 400, without calling the Token Service', async () => {
    const user = newUser();
    const scripted = tokenService.addUser({ userId: user.id });
    scriptedSecrets.push(scripted.ssoToken, scripted.userToken);
    const conversationId = `a:${randomUUID()}`;
    const id = await startSignIn(user, conversationId);
    tokenService.reset();
    const response = await post(kluis, invoke(user, conversationId, 'signin/tokenExchange', { id, connectionName: 'SomeOtherConnection', token: scripted.ssoToken }));
    expect(response.status).toBe(400);
    expect(tokenService.requests).toHaveLength(0);
  });

  it('refuses a signin/verifyState when no sign-in is pending (guessing sign-in codes), without redeeming the code', async () => {
    const user = newUser();
    tokenService.addUser({ userId: user.id });
    const code = tokenService.completeSignInPage(user.id);
    const response = await post(kluis, invoke(user, `a:${randomUUID()}`, 'signin/verifyState', { state: code }));
    expect(response.status).toBe(412);
    expect(tokenService.requests).toHaveLength(0);
    expect(tokenService.hasToken(user.id)).toBe(false);
  });

  it('refuses an unsigned sign-in invoke (no channel token) with 401 before anything else', async () => {
    const user = newUser();
    const response = await post(kluis, invoke(user, `a:${randomUUID()}`, 'signin/tokenExchange', { id: randomUUID(), connectionName: CONNECTION, token: 'x' }), false);
    expect(response.status).toBe(401);
    expect(tokenService.requests).toHaveLength(0);
  });
});

describe('without BOT_OAUTH_CONNECTION', () => {
  it('has no sign-in: "signin" is an ordinary question and the Token Service is never called', async () => {
    const plainTokens = await startFakeBotTokenService({ connectionName: CONNECTION });
    const plainTenant = randomUUID();
    const plain = await startKluisWith({ LOCAL_TENANT_ID: plainTenant, BOT_OAUTH_URL: plainTokens.url });
    try {
      const conversationId = `a:${randomUUID()}`;
      const body = { ...message(newUser(), conversationId, 'signin'), conversation: { id: conversationId, tenantId: plainTenant }, channelData: { tenant: { id: plainTenant } } };
      expect((await post(plain, body, false)).status).toBe(200);
      const replies = await connector.waitForMessages(1);
      expect(oauthCards(replies)).toHaveLength(0);
      expect(replies[0]!.activity.attachments?.[0]?.contentType).toBe('application/vnd.microsoft.card.adaptive');
      expect(plainTokens.requests).toHaveLength(0);
    } finally {
      await plain.stop();
      await plainTokens.close();
      await db.workspace.deleteMany({ where: { tenantId: plainTenant } });
    }
  });
});

describe('settings', () => {
  const base = { LOCAL_MODE: 'true' };
  it('refuses a plain-http BOT_OAUTH_URL off this machine (the bot sends its app token there)', () => {
    expect(() => loadConfig({ ...base, BOT_OAUTH_URL: 'http://token.example.com' }, { dotenv: false })).toThrow(/^Setting BOT_OAUTH_URL: expected an https URL/);
    expect(loadConfig({ ...base, BOT_OAUTH_URL: 'https://token.botframework.azure.us/' }, { dotenv: false }).bot.oauthUrl).toBe('https://token.botframework.azure.us');
  });

  it('reads BOT_OAUTH_CONNECTION and refuses one with surrounding spaces', () => {
    const bot = { ...base, BOT_ID: randomUUID(), BOT_PASSWORD: 'x', BOT_TENANT_ID: randomUUID() };
    expect(loadConfig({ ...bot, BOT_OAUTH_CONNECTION: 'Kluis Graph' }, { dotenv: false }).bot.oauthConnection).toBe('Kluis Graph');
    expect(loadConfig(base, { dotenv: false }).bot.oauthConnection).toBeUndefined();
    expect(() => loadConfig({ ...bot, BOT_OAUTH_CONNECTION: ' graph' }, { dotenv: false })).toThrow(/^Setting BOT_OAUTH_CONNECTION: expected the OAuth connection setting name/);
  });

  it('refuses BOT_OAUTH_CONNECTION without BOT_ID: botbuilder cannot ask the Token Service for a sign-in without the bot app id', () => {
    expect(() => loadConfig({ ...base, BOT_OAUTH_CONNECTION: 'graph' }, { dotenv: false })).toThrow(/^Setting BOT_OAUTH_CONNECTION: requires BOT_ID/);
  });
});

describe('secrets', () => {
  it('never puts an SSO token, a user token or the app token in a reply, an invoke answer or a log line', () => {
    expect(scriptedSecrets.length).toBeGreaterThan(10);
    const everything = [...answers, ...logLines].join('\n');
    expect(logLines.length).toBeGreaterThan(0);
    for (const secret of scriptedSecrets) expect(everything).not.toContain(secret);
  });
});
