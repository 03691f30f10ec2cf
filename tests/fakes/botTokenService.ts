/**
 * A local stand-in for the Bot Framework Token Service (the bot's `OAuthUrl`, public cloud
 * https://api.botframework.com), speaking the Token API v3.1 as botbuilder's UserTokenClient calls
 * it (botframework-connector, tokenApi/operations): paths, query parameters and JSON shapes below
 * are the ones its operation specs and mappers send and expect.
 *
 * - GET    api/usertoken/GetToken?userId&connectionName&channelId[&code]
 *          -> 200 TokenResponse { channelId, connectionName, token, expiration }; 404 with an empty body
 *             when the user has no token (a `code` from the sign-in page is redeemed first, as in the
 *             magic-code flow). The body must be empty: botbuilder maps a 404 body to a TokenResponse,
 *             and its OAuthPrompt takes any such object as "signed in".
 * - GET    api/botsignin/GetSignInResource?state[&code_challenge&emulatorUrl&finalRedirect]
 *          -> 200 SignInUrlResponse { signInLink, tokenExchangeResource: { id, uri, providerId } }; `state`
 *             is botbuilder's base64 TokenExchangeState { connectionName, conversation, relatesTo, msAppId }.
 * - POST   api/usertoken/exchange?userId&connectionName&channelId, body TokenExchangeRequest { token }
 *          -> 200 TokenResponse; 400 ErrorResponse { error: { code, message } } for a token it cannot
 *             exchange (e.g. consent missing); 404 without a token when the connection has nothing to exchange.
 * - DELETE api/usertoken/SignOut?userId&connectionName&channelId -> 200.
 *
 * The real service authenticates the bot by the app token botbuilder puts in `Authorization`;
 * with `appToken` set, the fake answers 401 to any other credential. Every request is recorded
 * (method, path, query, Authorization header, JSON body) so tests can check what went over the wire.
 */
import { randomBytes, randomInt, randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedTokenServiceRequest {
  method: string;
  /** Path without the leading slash, e.g. `api/usertoken/GetToken`, as botbuilder names it. */
  path: string;
  query: Record<string, string>;
  authorization?: string;
  body?: unknown;
  status: number;
}

export interface ScriptedUser {
  /** The Teams activity `from.id` (the Token Service keys tokens by it). */
  userId: string;
  /** The Teams SSO token the exchange accepts for this user. */
  ssoToken: string;
  /** The user token (for Microsoft Graph) the connection yields for this user. */
  userToken: string;
  /** Consent for the connection's scopes is missing: exchanging answers 400, as Entra refuses it. */
  consentRequired?: boolean;
}

export async function startFakeBotTokenService(options: { connectionName: string; appToken?: string; channelId?: string; exchangeUri?: string }) {
  const exchangeUri = options.exchangeUri ?? `api://kluis.example.com/${randomUUID()}`;
  const requests: RecordedTokenServiceRequest[] = [];
  const users = new Map<string, ScriptedUser>();
  /** Tokens the service holds, per `${userId}\n${connectionName}` (set by exchange or code redemption). */
  const held = new Map<string, string>();
  const codes = new Map<string, string>();
  const issuedExchangeIds: string[] = [];
  const failures: Array<{ path: string; status: number }> = [];

  const key = (userId: string, connectionName: string) => `${userId}\n${connectionName}`;
  const tokenResponse = (connectionName: string, token: string) => ({ channelId: options.channelId ?? 'msteams', connectionName, token, expiration: new Date(Date.now() + 3600_000).toISOString() });

  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString('utf8')));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const path = url.pathname.replace(/^\/+/, '');
      const query = Object.fromEntries(url.searchParams);
      let body: unknown;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        body = raw;
      }
      const record: RecordedTokenServiceRequest = { method: req.method ?? 'GET', path, query, authorization: req.headers.authorization, body, status: 0 };
      requests.push(record);
      const send = (status: number, json?: unknown) => {
        record.status = status;
        if (json === undefined) res.writeHead(status, { 'content-length': '0' }).end();
        else res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(json));
      };

      if (options.appToken !== undefined && req.headers.authorization !== `Bearer ${options.appToken}`) {
        send(401, { error: { code: 'Unauthorized', message: 'The bot could not be authenticated.' } });
        return;
      }
      const failure = failures.findIndex((f) => f.path === path);
      if (failure >= 0) {
        const { status } = failures.splice(failure, 1)[0]!;
        send(status, status === 404 ? undefined : { error: { code: status >= 500 ? 'ServiceError' : 'BadArgument', message: 'The token service refused the request.' } });
        return;
      }

      if (req.method === 'GET' && path === 'api/usertoken/GetToken') {
        const { userId, connectionName, code } = query;
        if (!userId || !connectionName) return send(400, { error: { code: 'BadArgument', message: 'userId and connectionName are required.' } });
        if (code) {
          const codeUser = codes.get(code);
          const user = codeUser === undefined ? undefined : users.get(codeUser);
          if (user && codeUser === userId && connectionName === options.connectionName) {
            codes.delete(code);
            held.set(key(userId, connectionName), user.userToken);
          }
        }
        const token = held.get(key(userId, connectionName));
        if (!token) return send(404);
        return send(200, tokenResponse(connectionName, token));
      }

      if (req.method === 'GET' && path === 'api/botsignin/GetSignInResource') {
        let state: { connectionName?: string; msAppId?: string } | undefined;
        try {
          state = JSON.parse(Buffer.from(query.state ?? '', 'base64').toString('utf8')) as typeof state;
        } catch {
          state = undefined;
        }
        if (!state || state.connectionName !== options.connectionName) return send(400, { error: { code: 'BadArgument', message: 'Invalid state: unknown connection.' } });
        const id = randomUUID();
        issuedExchangeIds.push(id);
        return send(200, {
          signInLink: `https://token.botframework.invalid/api/oauth/signin?signin=${randomBytes(16).toString('hex')}`,
          tokenExchangeResource: { id, uri: exchangeUri, providerId: 'aadv2' },
        });
      }

      if (req.method === 'POST' && path === 'api/usertoken/exchange') {
        const { userId, connectionName } = query;
        const ssoToken = (body as { token?: unknown } | undefined)?.token;
        if (!userId || !connectionName || typeof ssoToken !== 'string') return send(400, { error: { code: 'BadArgument', message: 'userId, connectionName and a token are required.' } });
        if (connectionName !== options.connectionName) return send(404);
        const user = users.get(userId);
        if (!user || user.ssoToken !== ssoToken) return send(400, { error: { code: 'TokenExchangeFailed', message: 'The token could not be exchanged.' } });
        if (user.consentRequired) return send(400, { error: { code: 'ConsentRequired', message: 'AADSTS65001: The user or administrator has not consented to use the application.' } });
        held.set(key(userId, connectionName), user.userToken);
        return send(200, tokenResponse(connectionName, user.userToken));
      }

      if (req.method === 'DELETE' && path === 'api/usertoken/SignOut') {
        const { userId, connectionName } = query;
        if (!userId) return send(400, { error: { code: 'BadArgument', message: 'userId is required.' } });
        if (connectionName) held.delete(key(userId, connectionName));
        else for (const k of [...held.keys()]) if (k.startsWith(`${userId}\n`)) held.delete(k);
        return send(200, {});
      }

      send(404, { error: { code: 'NotFound', message: `No route for ${req.method ?? ''} /${path}` } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    /** The OAuthUrl to configure (BOT_OAUTH_URL). */
    url: `http://127.0.0.1:${port}`,
    exchangeUri,
    requests,
    /** Requests to one path, e.g. `api/usertoken/exchange`. */
    calls: (path: string) => requests.filter((r) => r.path === path),
    issuedExchangeIds: () => [...issuedExchangeIds],
    /** Script a user: a fresh SSO token and user token unless given. */
    addUser(user: Partial<ScriptedUser> & { userId: string }): ScriptedUser {
      const scripted: ScriptedUser = { ssoToken: `sso-${randomBytes(24).toString('base64url')}`, userToken: `graph-${randomBytes(24).toString('base64url')}`, ...user };
      users.set(user.userId, scripted);
      return scripted;
    },
    /** The user finished the sign-in page; the page shows this code, which Teams sends in signin/verifyState. */
    completeSignInPage(userId: string): string {
      const code = String(randomInt(100000, 1000000));
      codes.set(code, userId);
      return code;
    },
    hasToken: (userId: string) => held.has(key(userId, options.connectionName)),
    /** The next request to `path` fails with `status` (an ErrorResponse body). */
    failNext(path: string, status: number): void {
      failures.push({ path, status });
    },
    reset(): void {
      requests.splice(0);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

export type FakeBotTokenService = Awaited<ReturnType<typeof startFakeBotTokenService>>;
