/**
 * A local stand-in for the Bot Framework channel token issuer: the OpenID configuration and the
 * signing keys (with their channel endorsements) that botbuilder fetches, served over HTTP, and
 * tokens signed like the Bot Connector signs them (RS256, iss https://api.botframework.com,
 * aud = the bot's app id, a `serviceurl` claim) — "Authentication with the Bot Connector API",
 * "Connector to bot".
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export const BOT_FRAMEWORK_ISSUER = 'https://api.botframework.com';

export async function startFakeBotFrameworkIssuer(options: { endorsements?: string[] } = {}) {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = 'bf-test-key-1';
  const jwk = { ...(await exportJWK(publicKey)), kid, kty: 'RSA', use: 'sig', endorsements: options.endorsements ?? ['msteams'] };
  let fetches = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/v1/.well-known/openidconfiguration') {
      fetches++;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ issuer: BOT_FRAMEWORK_ISSUER, jwks_uri: `${base}/v1/.well-known/keys`, id_token_signing_alg_values_supported: ['RS256'] }));
      return;
    }
    if (req.url === '/v1/.well-known/keys') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    metadataUrl: `${base}/v1/.well-known/openidconfiguration`,
    metadataFetches: () => fetches,
    /** A channel token as the Bot Connector would send it to the bot. */
    async channelToken(claims: { aud: string; serviceurl: string; iss?: string; expiresInSeconds?: number }, signWith: 'issuer' | 'stranger' = 'issuer'): Promise<string> {
      const key = signWith === 'issuer' ? privateKey : (await generateKeyPair('RS256')).privateKey;
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ serviceurl: claims.serviceurl })
        .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
        .setIssuer(claims.iss ?? BOT_FRAMEWORK_ISSUER)
        .setAudience(claims.aud)
        .setIssuedAt(now - 10)
        .setNotBefore(now - 10)
        .setExpirationTime(now + (claims.expiresInSeconds ?? 3600))
        .sign(key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
