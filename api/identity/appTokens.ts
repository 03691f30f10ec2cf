/**
 * Kluis's own (app-only) Microsoft Graph tokens per customer tenant, with the client credentials
 * flow ("Microsoft identity platform and the OAuth 2.0 client credentials flow") through
 * @azure/identity's ClientSecretCredential: scheduled SharePoint syncs and the asking user's group
 * memberships use them. One credential per tenant, so MSAL's in-memory cache keeps that tenant's
 * token until shortly before it expires; concurrent requests of one tenant share one exchange.
 *
 * Bounded, because a user may be waiting: every attempt at the token endpoint has a timeout
 * (`attemptTimeoutMs`), retries are few (`maxRetries`), and a caller may wait less than that
 * (`waitMs`): it then gets 'identity_provider_unavailable' while the exchange finishes in the
 * background and serves the next request. Instance discovery is off: Kluis names its authority
 * itself, and a private or sovereign authority must work without asking login.microsoftonline.com.
 *
 * Failures map to the catalogue as in entraErrors.ts (a wrong or expired secret is 'config_invalid');
 * the client secret never appears in an error detail or a log line.
 */
import { ClientSecretCredential, type ClientSecretCredentialOptions } from '@azure/identity';
import type { Logger } from 'pino';
import { fail, isKluisError, KluisError } from '../errors';
import { httpsAuthorityOrigin, translateEntraError } from './entraErrors';
import { attemptTimeout, responseRecorder } from './entraPipeline';
import { DEFAULT_AUTHORITY_HOST } from './onBehalfOf';

export const GRAPH_APP_SCOPE = 'https://graph.microsoft.com/.default';

export interface AppTokenOptions {
  /** Kluis's application (client) id. */
  clientId: string;
  clientSecret: string;
  /** Default https://login.microsoftonline.com. Must be https (MSAL refuses anything else). */
  authorityHost?: string;
  /** PEM trust anchors for a private authority host (a local test issuer); unset in production. */
  trustedCaCertificates?: string;
  /** One attempt at the token endpoint may take this long. Default 5 s. */
  attemptTimeoutMs?: number;
  /** Retries of a failed attempt (429, 5xx, no answer), with the SDK's back-off. Default 2. */
  maxRetries?: number;
  /** Tenants whose credential is kept; the least recently used goes first. Default 10,000. */
  maxTenants?: number;
  logger?: Pick<Logger, 'warn'>;
}

export interface AppTokens {
  /**
   * An app-only token for Graph in this tenant. With `waitMs`, waits at most that long; a slower
   * exchange goes on and its token serves the next call.
   */
  tokenFor(tenantId: string, options?: { waitMs?: number }): Promise<string>;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createAppTokens(options: AppTokenOptions): AppTokens {
  if (!GUID.test(options.clientId)) fail('config_invalid', 'App tokens: clientId must be a GUID');
  const clientSecret = options.clientSecret;
  if (typeof clientSecret !== 'string' || clientSecret.trim() === '') fail('config_invalid', 'App tokens: a client secret is required');
  const authorityHost = httpsAuthorityOrigin(options.authorityHost ?? DEFAULT_AUTHORITY_HOST, 'App tokens');
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 5000;
  const maxRetries = options.maxRetries ?? 2;
  const maxTenants = options.maxTenants ?? 10_000;

  const credentials = new Map<string, { credential: ClientSecretCredential; last: () => ReturnType<ReturnType<typeof responseRecorder>['last']> }>();
  const pending = new Map<string, Promise<string>>();
  const redact = (text: string) => text.split(clientSecret).join('[client secret]');

  function credentialFor(tenantId: string) {
    const known = credentials.get(tenantId);
    if (known) {
      // Most recently used last, so the first key is the one to drop.
      credentials.delete(tenantId);
      credentials.set(tenantId, known);
      return known;
    }
    const recorder = responseRecorder();
    const credentialOptions: ClientSecretCredentialOptions = {
      // Set explicitly so AZURE_AUTHORITY_HOST in the environment cannot redirect the secret.
      authorityHost,
      disableInstanceDiscovery: true,
      retryOptions: { maxRetries },
      additionalPolicies: [recorder.policy, attemptTimeout(attemptTimeoutMs)],
      loggingOptions: { allowLoggingAccountIdentifiers: false, enableUnsafeSupportLogging: false },
      ...(options.trustedCaCertificates === undefined ? {} : { tlsOptions: { ca: options.trustedCaCertificates } }),
    };
    const entry = { credential: new ClientSecretCredential(tenantId, options.clientId, clientSecret, credentialOptions), last: recorder.last };
    if (credentials.size >= maxTenants) credentials.delete(credentials.keys().next().value as string);
    credentials.set(tenantId, entry);
    return entry;
  }

  async function acquire(tenantId: string): Promise<string> {
    const { credential, last } = credentialFor(tenantId);
    try {
      const token = await credential.getToken(GRAPH_APP_SCOPE);
      if (!token?.token) fail('identity_provider_unavailable', `App token for tenant ${tenantId}: Entra answered without a token`);
      return token.token;
    } catch (error) {
      if (isKluisError(error)) throw error;
      const translated = translateEntraError(error, `App token for tenant ${tenantId}`, last(), redact);
      options.logger?.warn({ errorId: translated.id, tenantId, detail: translated.message }, 'app token request failed');
      throw translated;
    }
  }

  return {
    async tokenFor(tenantId, { waitMs } = {}) {
      const tenant = tenantId.toLowerCase();
      if (!GUID.test(tenant)) fail('internal', 'App tokens: tenantId must be a GUID');
      let exchange = pending.get(tenant);
      if (!exchange) {
        exchange = acquire(tenant).finally(() => pending.delete(tenant));
        pending.set(tenant, exchange);
      }
      if (waitMs === undefined) return exchange;
      // A late exchange still settles; its failure is already logged, so it must not go unhandled.
      exchange.catch(() => undefined);
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new KluisError('identity_provider_unavailable', `App token for tenant ${tenant}: no answer within ${waitMs} ms`)), waitMs);
        timer.unref();
      });
      try {
        return await Promise.race([exchange, late]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
