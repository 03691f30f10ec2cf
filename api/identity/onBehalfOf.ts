/**
 * Microsoft Graph tokens for a signed-in user, obtained with the On-Behalf-Of flow
 * ("Microsoft identity platform and OAuth 2.0 On-Behalf-Of flow") through @azure/identity's
 * OnBehalfOfCredential: Kluis exchanges the user's token for its own API (already validated by
 * entraTokens.ts) for a Graph token in the user's home tenant, and calls Graph server-side with it.
 *
 * Graph tokens stay inside Kluis: the broker hands them only to server-side Graph calls, never to a
 * client. They are cached in memory per user (tid + oid) and scope set until shortly before they
 * expire, so a busy user does not cost one Entra round-trip per request.
 *
 * Failures become catalogued errors:
 * - invalid_grant / interaction_required (consent missing, MFA or another Conditional Access policy)
 *   -> 'consent_required', carrying Entra's `claims` challenge when it sent one, which the client
 *   passes to its next token request ("Claims challenges, claims requests and client capabilities");
 * - the user's assertion itself refused (expired in the clock-skew window, bad signature)
 *   -> 'unauthenticated', so the client simply gets a fresh token;
 * - 429 and 5xx -> 'identity_provider_unavailable' with Retry-After when Entra gave one;
 * - invalid_client / unauthorized_client (secret expired or wrong) -> 'config_invalid'.
 * Neither the user's assertion nor the client secret ever appears in an error detail or a log line.
 */
import {
  OnBehalfOfCredential,
  type AccessToken,
  type AuthorityValidationOptions,
  type MultiTenantTokenCredentialOptions,
  type OnBehalfOfCredentialSecretOptions,
} from '@azure/identity';
import { decodeJwt } from 'jose';
import type { Logger } from 'pino';
import { fail, isKluisError } from '../errors';
import { httpsAuthorityOrigin, translateEntraError } from './entraErrors';
import { attemptTimeout, responseRecorder } from './entraPipeline';

export interface OnBehalfOfOptions {
  /** Kluis API's application (client) id; the OBO confidential client. */
  clientId: string;
  clientSecret: string;
  /** Default https://login.microsoftonline.com. Must be https (MSAL refuses anything else). */
  authorityHost?: string;
  /** Graph scopes to request. Default Files.Read.All and Sites.Read.All (delegated). */
  scopes?: string[];
  /**
   * PEM trust anchors for a private authority host (a local test issuer). Unset in production,
   * where the system's certificate authorities apply.
   */
  trustedCaCertificates?: string;
  /** One token request may take this long before it counts as Entra unavailable. Default 5 s. */
  attemptTimeoutMs?: number;
  /** How long before expiry a cached token is replaced. Default 300 s. */
  expiryMarginSeconds?: number;
  logger?: Pick<Logger, 'warn'>;
}

export interface GraphTokenBroker {
  graphTokenFor(identity: { tenantId: string; objectId: string }, userAssertion: string): Promise<string>;
  /**
   * Drops the cached Graph tokens of one user, or of every user of a tenant without `objectId`
   * (erasure); returns how many were dropped. The next request exchanges a fresh assertion.
   */
  forget(identity: { tenantId: string; objectId?: string }): number;
}

export const DEFAULT_GRAPH_SCOPES: readonly string[] = ['https://graph.microsoft.com/Files.Read.All', 'https://graph.microsoft.com/Sites.Read.All'];

export const DEFAULT_AUTHORITY_HOST = 'https://login.microsoftonline.com';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Bounds memory: one entry per active user and scope set; expired entries go first. */
const MAX_CACHED_TOKENS = 10_000;

interface CachedToken {
  token: string;
  refreshAt: number;
}

export function createGraphTokenBroker(options: OnBehalfOfOptions): GraphTokenBroker {
  if (!GUID.test(options.clientId)) fail('config_invalid', 'On-Behalf-Of: clientId must be a GUID');
  const clientSecret = options.clientSecret;
  if (typeof clientSecret !== 'string' || clientSecret.trim() === '') fail('config_invalid', 'On-Behalf-Of: a client secret is required');
  const scopes = [...(options.scopes ?? DEFAULT_GRAPH_SCOPES)];
  if (scopes.length === 0 || scopes.some((s) => s.trim() === '' || /\s/.test(s))) fail('config_invalid', 'On-Behalf-Of: scopes must be non-empty names without spaces');
  const scopeKey = [...new Set(scopes)].sort().join(' ');
  const authorityHost = httpsAuthorityOrigin(options.authorityHost ?? DEFAULT_AUTHORITY_HOST, 'On-Behalf-Of');
  const marginMs = (options.expiryMarginSeconds ?? 300) * 1000;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5000;

  const cache = new Map<string, CachedToken>();
  const pending = new Map<string, Promise<string>>();

  /** Removes the secrets this broker holds from any text that might reach a log. */
  function redact(text: string, userAssertion: string): string {
    let out = text.split(clientSecret).join('[client secret]');
    if (userAssertion.length > 0) out = out.split(userAssertion).join('[user assertion]');
    // Any other JWT-looking string (a signature segment alone is enough to replay nothing, but is noise).
    return out.replace(/eyJ[A-Za-z0-9_-]{10,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g, '[jwt]');
  }

  async function acquire(tenantId: string, userAssertion: string): Promise<AccessToken> {
    // Each call gets its own pipeline recorder: MSAL's errors carry Entra's body but not the
    // Retry-After header, which the caller needs to answer 503 honestly.
    const recorder = responseRecorder();
    try {
      // The assertion is a constructor argument, so one credential serves one exchange. Its MSAL
      // cache is therefore per call; the broker's own cache below is what spares Entra.
      const credentialOptions: OnBehalfOfCredentialSecretOptions & MultiTenantTokenCredentialOptions & AuthorityValidationOptions = {
        // The user's home tenant: a multi-tenant API must redeem the assertion where it was issued.
        tenantId,
        clientId: options.clientId,
        clientSecret,
        userAssertionToken: userAssertion,
        // Set explicitly so AZURE_AUTHORITY_HOST in the environment cannot redirect the secret.
        authorityHost,
        // Instance discovery asks login.microsoftonline.com whether the authority is an Entra
        // instance; Kluis configures its authority itself, and a private host must work offline.
        disableInstanceDiscovery: true,
        // A user is waiting: fail fast with Retry-After instead of sleeping inside the request.
        retryOptions: { maxRetries: 0 },
        additionalPolicies: [recorder.policy, attemptTimeout(attemptTimeoutMs)],
        loggingOptions: { allowLoggingAccountIdentifiers: false, enableUnsafeSupportLogging: false },
        ...(options.trustedCaCertificates === undefined ? {} : { tlsOptions: { ca: options.trustedCaCertificates } }),
      };
      // The constructor's overloads omit AuthorityValidationOptions, although the exported
      // OnBehalfOfCredentialOptions type includes it and the credential passes it on to MSAL.
      const credential = new OnBehalfOfCredential(credentialOptions);
      return await credential.getToken(scopes);
    } catch (error) {
      if (isKluisError(error)) throw error;
      const translated = translateEntraError(error, `On-Behalf-Of for tenant ${tenantId}`, recorder.last(), (text) => redact(text, userAssertion));
      options.logger?.warn({ errorId: translated.id, tenantId, detail: translated.message }, 'On-Behalf-Of token request failed');
      throw translated;
    }
  }

  function remember(key: string, token: AccessToken): void {
    const now = Date.now();
    const refreshAt = Math.min(token.expiresOnTimestamp - marginMs, token.refreshAfterTimestamp ?? Number.POSITIVE_INFINITY);
    if (refreshAt <= now) return;
    if (cache.size >= MAX_CACHED_TOKENS) {
      for (const [k, v] of cache) if (v.refreshAt <= now) cache.delete(k);
      const oldest = cache.keys().next();
      if (cache.size >= MAX_CACHED_TOKENS && !oldest.done) cache.delete(oldest.value);
    }
    cache.set(key, { token: token.token, refreshAt });
  }

  return {
    forget(identity) {
      const prefix = identity.objectId === undefined ? `${identity.tenantId.toLowerCase()}:` : `${identity.tenantId.toLowerCase()}:${identity.objectId.toLowerCase()}:`;
      let dropped = 0;
      for (const key of [...cache.keys()]) {
        if (key.startsWith(prefix) && cache.delete(key)) dropped++;
      }
      // An exchange still in flight would be joined by the next request of the same user.
      for (const key of [...pending.keys()]) if (key.startsWith(prefix)) pending.delete(key);
      return dropped;
    },
    async graphTokenFor(identity, userAssertion) {
      const tenantId = identity.tenantId.toLowerCase();
      const objectId = identity.objectId.toLowerCase();
      if (!GUID.test(tenantId) || !GUID.test(objectId)) fail('internal', 'On-Behalf-Of: identity must carry GUID tenantId and objectId');
      if (typeof userAssertion !== 'string' || userAssertion === '') fail('unauthenticated', 'On-Behalf-Of: no user assertion');
      // The cache is keyed by the identity, so the identity must be the assertion's own: a caller
      // mixing up two requests must not hand one user's cached Graph token to another.
      assertionBelongsTo(userAssertion, tenantId, objectId);

      const key = `${tenantId}:${objectId}:${scopeKey}`;
      const cached = cache.get(key);
      if (cached !== undefined && Date.now() < cached.refreshAt) return cached.token;
      cache.delete(key);

      // Concurrent requests of one user share one exchange.
      const inFlight = pending.get(key);
      if (inFlight !== undefined) return inFlight;
      const exchange = acquire(tenantId, userAssertion)
        .then((token) => {
          remember(key, token);
          return token.token;
        })
        .finally(() => pending.delete(key));
      pending.set(key, exchange);
      return exchange;
    },
  };
}

function assertionBelongsTo(userAssertion: string, tenantId: string, objectId: string): void {
  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(userAssertion);
  } catch {
    return fail('unauthenticated', 'On-Behalf-Of: the user assertion is not a JWT');
  }
  const tid = typeof claims.tid === 'string' ? claims.tid.toLowerCase() : undefined;
  const oid = typeof claims.oid === 'string' ? claims.oid.toLowerCase() : undefined;
  if (tid !== tenantId || oid !== objectId) fail('internal', 'On-Behalf-Of: the user assertion belongs to another identity than the one given');
}
