/**
 * Every Kluis setting, read from the environment (and an optional `.env`) and validated once.
 *
 * Nothing else in Kluis reads `process.env`. A wrong or missing value stops start-up with one
 * line that names the setting and what is expected (`ConfigError.message`).
 */
import fs from 'node:fs';
import path from 'node:path';
import { parse as parseDotenv } from 'dotenv';
import { z } from 'zod';
import { KluisError } from './errors';

/** The tenant id the Microsoft 365 Agents Playground puts on every activity. */
export const PLAYGROUND_TENANT_ID = '00000000-0000-0000-0000-0000000000001';

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce
  .number({ message: 'expected a TCP port number' })
  .int('expected a whole TCP port number')
  .min(0, 'expected a TCP port from 0 (any free port) to 65535')
  .max(65535, 'expected a TCP port from 0 (any free port) to 65535');

const guid = z.string().regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12,13}$/, 'expected a GUID like 00000000-0000-0000-0000-000000000000');

const httpUrl = z.string().url('expected an http(s) URL').refine((u) => /^https?:\/\//.test(u), 'expected an http(s) URL');

/**
 * DATA_KEY_VAULT_KEY: a versionless Azure Key Vault key identifier, https://<vault>/keys/<name>
 * (names: 1-127 letters, digits and dashes). Any https origin, so a Key Vault-compatible server
 * (or a test double on loopback) can stand in for *.vault.azure.net or *.managedhsm.azure.net.
 */
function isKeyVaultKeyUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' && !url.search && !url.hash && !url.username && !url.password && /^\/keys\/[0-9A-Za-z-]{1,127}\/?$/.test(url.pathname) && !value.includes('?') && !value.includes('#');
  } catch {
    return false;
  }
}
/** The kekId column holds 191 characters: `kv:` + the key URL + `/` + a 32-character version. */
const KEY_VAULT_KEY_URL_MAX = 191 - 3 - 33;

const PROVIDERS = ['extractive', 'openai', 'azure-openai', 'anthropic', 'gemini', 'perplexity'] as const;
type Provider = (typeof PROVIDERS)[number];
const providerName = z.enum(PROVIDERS, { message: `expected one of ${PROVIDERS.join(', ')}` });
const providerList = z
  .string()
  .transform((v) => v.split(',').map((p) => p.trim()).filter(Boolean))
  .pipe(z.array(providerName).min(1, 'expected at least one provider'));
const timeoutMs = z.coerce.number({ message: 'expected milliseconds' }).int().min(1000, 'expected 1000 to 600000 ms').max(600000, 'expected 1000 to 600000 ms').default(60000);
const maxRetries = z.coerce.number({ message: 'expected a number' }).int().min(0, 'expected 0 to 10').max(10, 'expected 0 to 10').default(2);

/** A service or environment name on every exported span: a short label, not free text. */
const otelName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, 'expected 1 to 63 letters, digits, ".", "_" or "-"');

/** ALERT_*: events per window that raise an alert (0 = detector off) and the window's length. */
const alertThreshold = z.coerce.number({ message: 'expected a number of events' }).int().min(0, 'expected 0 (off) to 1000000').max(1_000_000, 'expected 0 (off) to 1000000');
const alertWindow = z.coerce.number({ message: 'expected seconds' }).int().min(10, 'expected 10 to 86400 seconds').max(86400, 'expected 10 to 86400 seconds');

/** Which env variables hold each paid provider's key (a provider without its key is never offered). */
const PROVIDER_KEY: Record<Exclude<Provider, 'extractive'>, string> = {
  openai: 'OPENAI_API_KEY',
  'azure-openai': 'AZURE_OPENAI_API_KEY',
  anthropic: 'ANTHROPIC_API_KEY',
  gemini: 'GEMINI_API_KEY',
  perplexity: 'PERPLEXITY_API_KEY',
};
/** USAGE_PRICES: JSON `{"provider/model": {"input": cents, "output": cents}}` per million tokens. */
const priceOverrides = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'expected JSON like {"openai/gpt-4o-mini":{"input":15,"output":60}}' });
      return z.NEVER;
    }
  })
  .pipe(
    z.record(
      z.string().regex(/^[a-z0-9][a-z0-9-]{0,31}\/(\*|[^\s*]{1,100})$/, 'expected keys "provider/model" or "provider/*"'),
      z.object({ input: z.number().int().min(0).max(100_000_000), output: z.number().int().min(0).max(100_000_000) }, { message: 'expected {"input": cents, "output": cents} per million tokens, whole numbers' }).strict(),
      { message: 'expected a JSON object of "provider/model" prices' },
    ),
  );

const mysqlUrl = z
  .string()
  .refine((u) => /^(mysql|mariadb):\/\/[^/]+\/[^/?]+/.test(u), 'expected mysql://user:password@host:port/database');

/** The schema of the environment: names are the variables, values their rules and defaults. */
const environmentSchema = z
  .object({
    LOCAL_MODE: bool.default('false'),
    PORT: port.default(3978),
    HOST: z.string().min(1).default('0.0.0.0'),
    PUBLIC_URL: httpUrl.optional(),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], { message: 'expected one of fatal, error, warn, info, debug, trace, silent' }).default('info'),

    BOT_ID: guid.optional(),
    BOT_PASSWORD: z.string().min(1, 'expected the bot client secret').optional(),
    BOT_TYPE: z.enum(['SingleTenant', 'MultiTenant', 'UserAssignedMSI'], { message: 'expected SingleTenant, MultiTenant or UserAssignedMSI' }).default('SingleTenant'),
    BOT_TENANT_ID: guid.optional(),
    BOT_OPENID_METADATA_URL: httpUrl.optional(),
    BOT_SERVICE_URL_HOSTS: z
      .string()
      .regex(/^\s*(\*\.)?[a-z0-9.-]+(:\d+)?(\s*,\s*(\*\.)?[a-z0-9.-]+(:\d+)?)*\s*$/i, 'expected host names separated by commas, e.g. smba.trafficmanager.net,*.botframework.com')
      .default('smba.trafficmanager.net,*.botframework.com,smba.infra.gcc.teams.microsoft.com,smba.infra.gov.teams.microsoft.us,smba.infra.dod.teams.microsoft.us'),
    BOT_OAUTH_CONNECTION: z
      .string()
      .max(128, 'expected at most 128 characters')
      .regex(/^[^\s\x00-\x1f](?:[^\x00-\x1f]*[^\s\x00-\x1f])?$/, 'expected the OAuth connection setting name of the Azure Bot resource, without surrounding spaces')
      .optional(),
    // The bot sends its own app token to this host with every call, so only loopback may be plain http.
    BOT_OAUTH_URL: httpUrl
      .refine((u) => u.startsWith('https://') || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?(\/|$)/.test(u), 'expected an https URL (plain http only on 127.0.0.1 or localhost)')
      .optional(),

    DATA_DIR: z.string().min(1).default('.data'),
    DATABASE_URL: mysqlUrl.optional(),
    DATABASE_POOL_SIZE: z.coerce.number({ message: 'expected a number' }).int().min(1).max(200).default(10),

    KNOWLEDGE_DIR: z.string().min(1).optional(),
    KNOWLEDGE_WATCH: bool.default('true'),
    GRAPH_BASE_URL: httpUrl.default('https://graph.microsoft.com'),
    KNOWLEDGE_SYNC_INTERVAL_SECONDS: z.coerce.number({ message: 'expected seconds' }).int().min(0, 'expected 0 (off) to 86400').max(86400, 'expected 0 (off) to 86400').default(300),
    INDEX_DIR: z.string().min(1).optional(),
    SEARCH_INDEX: z.enum(['lancedb', 'qdrant'], { message: 'expected lancedb or qdrant' }).default('lancedb'),
    QDRANT_URL: httpUrl.optional(),
    QDRANT_API_KEY: z.string().min(1).optional(),
    QDRANT_COLLECTION: z.string().regex(/^[A-Za-z0-9_-]{1,128}$/, 'expected letters, digits, _ or -').default('kluis_chunks'),
    BLOB_DIR: z.string().min(1).optional(),
    BLOB_STORE: z.enum(['folder', 'minio'], { message: 'expected folder or minio' }).default('folder'),
    MINIO_ENDPOINT: z.string().regex(/^[A-Za-z0-9.-]+$/, 'expected a host name, e.g. minio.internal').optional(),
    MINIO_PORT: port.optional(),
    MINIO_USE_SSL: bool.default('true'),
    MINIO_ACCESS_KEY: z.string().min(1).optional(),
    MINIO_SECRET_KEY: z.string().min(1).optional(),
    MINIO_REGION: z.string().min(1).default('us-east-1'),
    MINIO_BUCKET_PREFIX: z.string().regex(/^[a-z0-9][a-z0-9-]{0,30}$/, 'expected 1-31 lower-case letters, digits or dashes').default('kluis-'),
    EMBEDDER: z.enum(['none', 'cohere', 'openai', 'azure-openai'], { message: 'expected none, cohere, openai or azure-openai' }).default('none'),
    EMBEDDING_DIMENSION: z.coerce.number({ message: 'expected a number' }).int().min(1, 'expected 1 to 65536').max(65536, 'expected 1 to 65536').optional(),
    EMBEDDING_TIMEOUT_MS: z.coerce.number({ message: 'expected milliseconds' }).int().min(1000).max(600000).default(30000),
    EMBEDDING_MAX_RETRIES: z.coerce.number({ message: 'expected a number' }).int().min(0).max(10).default(2),
    COHERE_API_KEY: z.string().min(1).optional(),
    COHERE_BASE_URL: httpUrl.optional(),
    COHERE_EMBED_MODEL: z.string().min(1).default('embed-multilingual-v3.0'),
    OPENAI_EMBEDDING_MODEL: z.string().min(1).default('text-embedding-3-small'),
    AZURE_OPENAI_EMBEDDING_DEPLOYMENT: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected the deployment name (letters, digits, . _ -)').optional(),
    RETRIEVAL_TOP_K: z.coerce.number({ message: 'expected a number' }).int().min(1, 'expected 1 to 20').max(20, 'expected 1 to 20').default(4),

    ASSISTANT_PROVIDER: providerName.optional(),
    ASSISTANT_ALLOWED_PROVIDERS: providerList.optional(),
    ASSISTANT_WEB_PROVIDER: providerName.optional(),
    ASSISTANT_LONG_CONTEXT_PROVIDER: providerName.optional(),
    ASSISTANT_LONG_CONTEXT_MIN_CHARS: z.coerce.number({ message: 'expected a number of characters' }).int().min(1000).max(10000000).default(60000),
    ASSISTANT_MAX_ATTEMPTS: z.coerce.number({ message: 'expected a number' }).int().min(1, 'expected 1 to 6').max(6, 'expected 1 to 6').optional(),
    OPENAI_API_KEY: z.string().min(1).optional(),
    OPENAI_BASE_URL: httpUrl.optional(),
    OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
    OPENAI_TIMEOUT_MS: timeoutMs,
    OPENAI_MAX_RETRIES: maxRetries,
    AZURE_OPENAI_API_KEY: z.string().min(1).optional(),
    AZURE_OPENAI_ENDPOINT: httpUrl.optional(),
    AZURE_OPENAI_DEPLOYMENT: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'expected a deployment name').optional(),
    AZURE_OPENAI_API_VERSION: z.string().regex(/^\d{4}-\d{2}-\d{2}(-preview)?$/, 'expected an API version like 2024-10-21').default('2024-10-21'),
    AZURE_OPENAI_TIMEOUT_MS: timeoutMs,
    AZURE_OPENAI_MAX_RETRIES: maxRetries,
    ANTHROPIC_API_KEY: z.string().min(1).optional(),
    ANTHROPIC_BASE_URL: httpUrl.optional(),
    ANTHROPIC_MODEL: z.string().min(1).default('claude-sonnet-4-5'),
    ANTHROPIC_TIMEOUT_MS: timeoutMs,
    ANTHROPIC_MAX_RETRIES: maxRetries,
    GEMINI_API_KEY: z.string().min(1).optional(),
    GEMINI_BASE_URL: httpUrl.optional(),
    GEMINI_MODEL: z.string().min(1).default('gemini-2.5-flash'),
    GEMINI_TIMEOUT_MS: timeoutMs,
    GEMINI_MAX_RETRIES: maxRetries,
    PERPLEXITY_API_KEY: z.string().min(1).optional(),
    PERPLEXITY_BASE_URL: httpUrl.optional(),
    PERPLEXITY_MODEL: z.string().min(1).default('sonar'),
    PERPLEXITY_TIMEOUT_MS: timeoutMs,
    PERPLEXITY_MAX_RETRIES: maxRetries,
    STABILITY_API_KEY: z.string().min(1).optional(),
    STABILITY_BASE_URL: httpUrl.optional(),
    STABILITY_TIMEOUT_MS: timeoutMs,
    STABILITY_MAX_RETRIES: maxRetries,
    USAGE_CURRENCY: z.string().regex(/^[A-Z]{3}$/, 'expected a three-letter ISO 4217 code, e.g. EUR').default('USD'),
    USAGE_PRICES: priceOverrides.optional(),

    MASTER_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters (32 random bytes, e.g. openssl rand -hex 32)').optional(),
    DATA_KEY_ROOT: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters (32 random bytes, e.g. openssl rand -hex 32): the root of the key that wraps workspace data keys').optional(),
    DATA_KEY_ROOT_PREVIOUS: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters: the DATA_KEY_ROOT the current one replaced, during a rotation').optional(),
    DATA_KEY_VAULT_KEY: z
      .string()
      .refine(isKeyVaultKeyUrl, 'expected the versionless key identifier https://<vault>.vault.azure.net/keys/<name> (or https://<hsm>.managedhsm.azure.net/keys/<name>; any https origin is accepted for a Key Vault-compatible server): https, /keys/ and the key name, no version, no query')
      .refine((v) => v.replace(/\/+$/, '').length <= KEY_VAULT_KEY_URL_MAX, `expected at most ${KEY_VAULT_KEY_URL_MAX} characters (the versioned key identifier is stored with each wrapped data key)`)
      .optional(),
    DATA_KEY_VAULT_IDENTITY: guid.optional(),
    ENTRA_CLIENT_ID: guid.optional(),
    ENTRA_API_URI: z.string().regex(/^api:\/\/\S+$/, 'expected the Application ID URI, e.g. api://kluis.example.com/<client id>').optional(),
    ENTRA_CLIENT_SECRET: z.string().min(1).optional(),
    ENTRA_AUTHORITY_HOST: httpUrl.default('https://login.microsoftonline.com'),
    SESSION_IDLE_MINUTES: z.coerce.number({ message: 'expected minutes' }).int().min(1, 'expected 1 to 1440 minutes').max(1440, 'expected 1 to 1440 minutes').default(30),
    SESSION_ABSOLUTE_HOURS: z.coerce.number({ message: 'expected hours' }).int().min(1, 'expected 1 to 168 hours').max(168, 'expected 1 to 168 hours').default(12),
    COOKIE_SECURE: bool.optional(),
    ALLOWED_ORIGINS: z
      .string()
      .regex(/^\s*(https:\/\/[a-z0-9.-]+(:\d+)?(\s*,\s*https:\/\/[a-z0-9.-]+(:\d+)?)*)?\s*$/i, 'expected https origins separated by commas, e.g. https://intranet.example.com (no path, no wildcard)')
      .default(''),
    TRUST_PROXY: z.string().regex(/^(false|true|\d+|[0-9a-fA-F:./,\s]+)$/, 'expected false, a hop count, or proxy addresses/CIDRs').default('false'),
    BCRYPT_COST: z.coerce.number({ message: 'expected a number' }).int().min(10, 'expected 10 to 15 (10 is the minimum)').max(15, 'expected 10 to 15 (10 is the minimum)').default(12),
    HIBP_BASE_URL: httpUrl.default('https://api.pwnedpasswords.com'),
    HIBP_TIMEOUT_MS: z.coerce.number({ message: 'expected milliseconds' }).int().min(100).max(30000).default(2000),
    LOGIN_FREE_ATTEMPTS_PER_ACCOUNT: z.coerce.number({ message: 'expected a number' }).int().min(1).max(100).default(5),
    LOGIN_FREE_ATTEMPTS_PER_IP: z.coerce.number({ message: 'expected a number' }).int().min(1).max(10000).default(20),
    LOGIN_MAX_WAIT_SECONDS: z.coerce.number({ message: 'expected seconds' }).int().min(1).max(86400).default(900),
    LOGIN_ATTEMPT_RETENTION_DAYS: z.coerce.number({ message: 'expected days' }).int().min(1).max(3650).default(37),
    RETENTION_SWEEP_INTERVAL_MINUTES: z.coerce.number({ message: 'expected minutes' }).int().min(0, 'expected 0 (off) to 1440 minutes').max(1440, 'expected 0 (off) to 1440 minutes').default(60),
    // The statement promises deletion within 30 days of termination; the sweep interval must fit in too.
    TERMINATED_WORKSPACE_ERASE_DAYS: z.coerce.number({ message: 'expected days' }).int().min(1, 'expected 1 to 30 days').max(30, 'expected 1 to 30 days').default(29),
    AUDIT_RETENTION_DAYS: z.coerce.number({ message: 'expected days' }).int().min(1).max(3650).default(365),
    // Shared state of several replicas (job queue, turn limits); without it the database holds both.
    REDIS_URL: z
      .string()
      .regex(/^rediss?:\/\/[^\s/]+(\/\d{1,2})?$/, 'expected redis://[user:password@]host:port[/db] or rediss://...')
      .optional(),
    TURNS_PER_USER_PER_MINUTE: z.coerce.number({ message: 'expected a number' }).int().min(0, 'expected 0 (off) to 1000').max(1000, 'expected 0 (off) to 1000').default(30),
    TURNS_PER_WORKSPACE_PER_MINUTE: z.coerce.number({ message: 'expected a number' }).int().min(0, 'expected 0 (off) to 100000').max(100000, 'expected 0 (off) to 100000').default(600),
    SHUTDOWN_GRACE_SECONDS: z.coerce.number({ message: 'expected seconds' }).int().min(1, 'expected 1 to 300 seconds').max(300, 'expected 1 to 300 seconds').default(20),
    METRICS_TOKEN: z.string().min(16, 'expected at least 16 characters').max(256).regex(/^\S+$/, 'expected no spaces').optional(),
    ALERT_WEBHOOK_URL: httpUrl.optional(),
    ALERT_WEBHOOK_TIMEOUT_MS: z.coerce.number({ message: 'expected milliseconds' }).int().min(100).max(60000).default(5000),
    ALERT_LOGIN_FAILURES: alertThreshold.default(20),
    ALERT_LOGIN_FAILURES_WINDOW_SECONDS: alertWindow.default(300),
    ALERT_DOCUMENT_READS: alertThreshold.default(200),
    ALERT_DOCUMENT_READS_WINDOW_SECONDS: alertWindow.default(600),
    ALERT_AUTHORIZATION_REFUSALS: alertThreshold.default(10),
    ALERT_AUTHORIZATION_REFUSALS_WINDOW_SECONDS: alertWindow.default(300),
    ALERT_PROVIDER_ERRORS: alertThreshold.default(10),
    ALERT_PROVIDER_ERRORS_WINDOW_SECONDS: alertWindow.default(300),
    SMTP_URL: z.string().regex(/^smtps?:\/\/\S+$/, 'expected smtp://user:password@host:port or smtps://...').optional(),
    MAIL_FROM: z.string().email('expected an email address').optional(),
    LOCAL_TENANT_ID: guid.default(PLAYGROUND_TENANT_ID),
    ONBOARD_TENANTS: z
      .string()
      .regex(/^\s*[0-9a-fA-F-]{36,37}=[^,=]{1,200}(\s*,\s*[0-9a-fA-F-]{36,37}=[^,=]{1,200})*\s*$/, 'expected tenantId=Name pairs separated by commas')
      .optional(),
    KNOWLEDGE_TENANT_ID: guid.optional(),
    KNOWLEDGE_MAX_FILE_MB: z.coerce.number({ message: 'expected megabytes' }).min(0.001).max(1024).default(50),
    UPLOAD_MAX_FILE_MB: z.coerce.number({ message: 'expected megabytes' }).min(0.001, 'expected 0.001 to 512 megabytes').max(512, 'expected 0.001 to 512 megabytes').default(100),
    DOWNLOAD_LINK_SECONDS: z.coerce.number({ message: 'expected seconds' }).int().min(10, 'expected 10 to 3600 seconds').max(3600, 'expected 10 to 3600 seconds').default(300),
    RETRIEVAL_MIN_COVERAGE: z.coerce.number({ message: 'expected a number from 0 to 1' }).min(0, 'expected a number from 0 to 1').max(1, 'expected a number from 0 to 1').default(0.5),
    PLAYGROUND_PORT: port.default(56150),
    OTEL_TRACES_EXPORTER: z.enum(['none', 'otlp', 'console'], { message: 'expected none, otlp or console' }).default('none'),
    OTEL_EXPORTER_OTLP_ENDPOINT: httpUrl.default('http://127.0.0.1:4318'),
    OTEL_SERVICE_NAME: otelName.default('kluis'),
    OTEL_DEPLOYMENT_ENVIRONMENT: otelName.optional(),
    OTEL_TRACES_SAMPLER_ARG: z.coerce.number({ message: 'expected a share from 0 to 1' }).min(0, 'expected a share from 0 to 1').max(1, 'expected a share from 0 to 1').default(1),
  })
  .superRefine((env, ctx) => {
    if (env.BOT_ID && !env.BOT_PASSWORD && env.BOT_TYPE !== 'UserAssignedMSI') {
      ctx.addIssue({ code: 'custom', path: ['BOT_PASSWORD'], message: 'required when BOT_ID is set (the bot client secret)' });
    }
    if (env.BOT_ID && env.BOT_TYPE !== 'MultiTenant' && !env.BOT_TENANT_ID) {
      ctx.addIssue({ code: 'custom', path: ['BOT_TENANT_ID'], message: `required when BOT_TYPE is ${env.BOT_TYPE} (the bot's home tenant id)` });
    }
    if (env.BOT_OAUTH_CONNECTION && !env.BOT_ID) {
      // botbuilder puts the bot's app id in every sign-in request (TokenExchangeState.msAppId), and
      // the Token Service keeps users' tokens per Azure Bot: there is no sign-in without one.
      ctx.addIssue({ code: 'custom', path: ['BOT_OAUTH_CONNECTION'], message: 'requires BOT_ID (sign-in runs through the Azure Bot resource, so local mode has none)' });
    }
    if (!env.BOT_ID && !env.LOCAL_MODE) {
      ctx.addIssue({ code: 'custom', path: ['BOT_ID'], message: 'required unless LOCAL_MODE=true (local mode serves the Agents Playground on 127.0.0.1 only)' });
    }
    if (env.KNOWLEDGE_DIR && !env.LOCAL_MODE && !env.KNOWLEDGE_TENANT_ID) {
      ctx.addIssue({ code: 'custom', path: ['KNOWLEDGE_TENANT_ID'], message: 'required when KNOWLEDGE_DIR is set outside local mode (the tenant whose workspace the folder feeds)' });
    }
    if (!env.LOCAL_MODE && !env.MASTER_KEY) {
      ctx.addIssue({ code: 'custom', path: ['MASTER_KEY'], message: 'required outside local mode (64 hex characters; it protects sessions and stored email addresses)' });
    }
    const same = (a?: string, b?: string) => !!a && !!b && a.toLowerCase() === b.toLowerCase();
    if (same(env.DATA_KEY_ROOT, env.MASTER_KEY)) {
      ctx.addIssue({ code: 'custom', path: ['DATA_KEY_ROOT'], message: 'must differ from MASTER_KEY (a root of its own, so it can be rotated and the old one destroyed while MASTER_KEY keeps protecting sign-in data)' });
    }
    if (env.DATA_KEY_ROOT_PREVIOUS && !env.DATA_KEY_ROOT) {
      ctx.addIssue({ code: 'custom', path: ['DATA_KEY_ROOT_PREVIOUS'], message: 'only during a rotation of DATA_KEY_ROOT: set DATA_KEY_ROOT to the new root and this to the one it replaces (data keys never move back to MASTER_KEY)' });
    } else if (same(env.DATA_KEY_ROOT_PREVIOUS, env.DATA_KEY_ROOT)) {
      ctx.addIssue({ code: 'custom', path: ['DATA_KEY_ROOT_PREVIOUS'], message: 'must differ from DATA_KEY_ROOT (the new root goes in DATA_KEY_ROOT, the one it replaces here)' });
    } else if (same(env.DATA_KEY_ROOT_PREVIOUS, env.MASTER_KEY)) {
      ctx.addIssue({ code: 'custom', path: ['DATA_KEY_ROOT_PREVIOUS'], message: 'not needed for MASTER_KEY: while DATA_KEY_ROOT is set, data keys MASTER_KEY wrapped always unwrap; leave this unset on the first move to a root' });
    }
    if (env.DATA_KEY_VAULT_IDENTITY && !env.DATA_KEY_VAULT_KEY) {
      ctx.addIssue({ code: 'custom', path: ['DATA_KEY_VAULT_IDENTITY'], message: 'only with DATA_KEY_VAULT_KEY (the managed identity Kluis uses for Azure Key Vault)' });
    }
    if (env.TERMINATED_WORKSPACE_ERASE_DAYS * 1440 + env.RETENTION_SWEEP_INTERVAL_MINUTES > 30 * 1440) {
      ctx.addIssue({ code: 'custom', path: ['TERMINATED_WORKSPACE_ERASE_DAYS'], message: 'this many days plus one RETENTION_SWEEP_INTERVAL_MINUTES must stay within the promised 30 days' });
    }
    if (env.ENTRA_CLIENT_ID && !env.ENTRA_API_URI) {
      ctx.addIssue({ code: 'custom', path: ['ENTRA_API_URI'], message: 'required with ENTRA_CLIENT_ID (the Application ID URI, api://...)' });
    }
    if (env.SMTP_URL && !env.MAIL_FROM) {
      ctx.addIssue({ code: 'custom', path: ['MAIL_FROM'], message: 'required with SMTP_URL (the sender address)' });
    }
    if (env.BLOB_STORE === 'minio') {
      for (const name of ['MINIO_ENDPOINT', 'MINIO_ACCESS_KEY', 'MINIO_SECRET_KEY'] as const) {
        if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: 'required when BLOB_STORE=minio' });
      }
    }
    if (env.SEARCH_INDEX === 'qdrant' && !env.QDRANT_URL) {
      ctx.addIssue({ code: 'custom', path: ['QDRANT_URL'], message: 'required when SEARCH_INDEX=qdrant, e.g. https://qdrant.internal:6333' });
    }
    const embedderNeeds = { none: [], cohere: ['COHERE_API_KEY'], openai: ['OPENAI_API_KEY'], 'azure-openai': ['AZURE_OPENAI_ENDPOINT', 'AZURE_OPENAI_API_KEY', 'AZURE_OPENAI_EMBEDDING_DEPLOYMENT'] } as const;
    for (const name of embedderNeeds[env.EMBEDDER]) {
      if (!env[name]) ctx.addIssue({ code: 'custom', path: [name], message: `required when EMBEDDER=${env.EMBEDDER}` });
    }
    for (const setting of ['ASSISTANT_PROVIDER', 'ASSISTANT_WEB_PROVIDER', 'ASSISTANT_LONG_CONTEXT_PROVIDER'] as const) {
      const chosen = env[setting];
      if (chosen && chosen !== 'extractive' && !env[PROVIDER_KEY[chosen] as keyof typeof env]) {
        ctx.addIssue({ code: 'custom', path: [PROVIDER_KEY[chosen]], message: `required when ${setting}=${chosen}` });
      }
    }
    // An Azure OpenAI resource may serve chat (AZURE_OPENAI_DEPLOYMENT), embeddings, or both.
    if (env.AZURE_OPENAI_API_KEY && (!env.AZURE_OPENAI_ENDPOINT || (!env.AZURE_OPENAI_DEPLOYMENT && !env.AZURE_OPENAI_EMBEDDING_DEPLOYMENT))) {
      ctx.addIssue({ code: 'custom', path: [env.AZURE_OPENAI_ENDPOINT ? 'AZURE_OPENAI_DEPLOYMENT' : 'AZURE_OPENAI_ENDPOINT'], message: 'required with AZURE_OPENAI_API_KEY' });
    }
    const allowed = env.ASSISTANT_ALLOWED_PROVIDERS;
    if (allowed) {
      for (const setting of ['ASSISTANT_PROVIDER', 'ASSISTANT_WEB_PROVIDER', 'ASSISTANT_LONG_CONTEXT_PROVIDER'] as const) {
        const chosen = env[setting];
        if (chosen && !allowed.includes(chosen)) ctx.addIssue({ code: 'custom', path: [setting], message: `${chosen} is not in ASSISTANT_ALLOWED_PROVIDERS` });
      }
    }
  });

export type Environment = z.infer<typeof environmentSchema>;

/** Every setting's name, for documentation checks. */
export const SETTING_NAMES: readonly string[] = Object.keys(environmentSchema.innerType().shape);

export type EmbedderConfig = { dimension: number; timeoutMs: number; maxRetries: number } & (
  | { kind: 'cohere'; apiKey: string; baseUrl?: string; model: string }
  | { kind: 'openai'; apiKey: string; baseUrl?: string; model: string }
  | { kind: 'azure-openai'; apiKey: string; endpoint: string; deployment: string; apiVersion: string }
);

/** The vector size each provider's default model returns (Cohere embed v3: 1024; text-embedding-3-small: 1536). */
const DEFAULT_EMBEDDING_DIMENSION = { cohere: 1024, openai: 1536, 'azure-openai': 1536 } as const;

function embedderConfig(e: Environment): EmbedderConfig | undefined {
  if (e.EMBEDDER === 'none') return undefined;
  const common = { dimension: e.EMBEDDING_DIMENSION ?? DEFAULT_EMBEDDING_DIMENSION[e.EMBEDDER], timeoutMs: e.EMBEDDING_TIMEOUT_MS, maxRetries: e.EMBEDDING_MAX_RETRIES };
  if (e.EMBEDDER === 'cohere') return { ...common, kind: 'cohere', apiKey: e.COHERE_API_KEY!, baseUrl: e.COHERE_BASE_URL, model: e.COHERE_EMBED_MODEL };
  if (e.EMBEDDER === 'openai') return { ...common, kind: 'openai', apiKey: e.OPENAI_API_KEY!, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_EMBEDDING_MODEL };
  return { ...common, kind: 'azure-openai', apiKey: e.AZURE_OPENAI_API_KEY!, endpoint: e.AZURE_OPENAI_ENDPOINT!, deployment: e.AZURE_OPENAI_EMBEDDING_DEPLOYMENT!, apiVersion: e.AZURE_OPENAI_API_VERSION };
}

export interface Config {
  localMode: boolean;
  http: { host: string; port: number; publicUrl?: string };
  logLevel: Environment['LOG_LEVEL'];
  bot: {
    appId?: string;
    appPassword?: string;
    appType: Environment['BOT_TYPE'];
    tenantId?: string;
    openIdMetadataUrl?: string;
    serviceUrlHosts: string[];
    /** The Azure Bot resource's OAuth connection for Teams SSO; unset = the bot has no sign-in. */
    oauthConnection?: string;
    /** Bot Framework Token Service base URL (botbuilder's OAuthUrl); unset = the public service. */
    oauthUrl?: string;
  };
  dataDir: string;
  database: { url?: string; poolSize: number };
  searchIndex: { kind: 'lancedb' | 'qdrant'; qdrant?: { url: string; apiKey?: string; collection: string } };
  /** Absent: lexical search only, nothing sent out for embedding. */
  embedder?: EmbedderConfig;
  graph: { baseUrl: string };
  knowledge: { syncIntervalSeconds: number; dir?: string; tenantId?: string; watch: boolean; maxFileBytes: number; indexDir: string; topK: number; minCoverage: number };
  onboardTenants: Array<{ tenantId: string; name: string }>;
  blobDir: string;
  /** Uploaded files: the largest accepted, and how long a signed download link stays valid. */
  files: { maxUploadBytes: number; downloadLinkSeconds: number };
  blobStore: { kind: 'folder' | 'minio'; minio?: { endPoint: string; port?: number; useSSL: boolean; accessKey: string; secretKey: string; region: string; bucketPrefix: string } };
  assistant: {
    /** The environment's routing policy: the default for every workspace until one stores its own. */
    routing: {
      defaultProvider: Provider;
      allowed: Provider[];
      rules: Array<{ when: 'web'; provider: Provider } | { when: 'long-context'; minChars: number; provider: Provider }>;
      maxAttempts?: number;
    };
    openai: ProviderSettings;
    azureOpenai: ProviderSettings & { apiVersion: string };
    anthropic: ProviderSettings;
    gemini: ProviderSettings;
    perplexity: ProviderSettings;
    /** Image generation; without a key there is none. */
    stability: { apiKey?: string; baseUrl?: string; timeoutMs: number; maxRetries: number };
  };
  /** Prices (cents per million tokens, overriding the defaults) and the currency of prices and budgets. */
  usage: { currency: string; prices: Record<string, { input: number; output: number }> };
  /** Audit events older than this are pruned by the retention sweeper (the chain stays verifiable). */
  audit: { retentionDays: number };
  /** GET /metrics and abnormal-behaviour alerts (api/operations). */
  operations: {
    /** Shared by the replicas for the job queue and turn limits; the database when unset. */
    redisUrl?: string;
    /** Assistant turns per user / per workspace per minute, counted across replicas; 0 = no limit. */
    turns: { perUserPerMinute: number; perWorkspacePerMinute: number };
    /** On SIGTERM: how long running turns and jobs may finish before jobs are handed back. */
    shutdownGraceSeconds: number;
    metricsToken?: string;
    alertWebhook?: { url: string; timeoutMs: number };
    alerts: Record<'loginFailures' | 'documentReads' | 'authorizationRefusals' | 'providerErrors', { threshold: number; windowSeconds: number }>;
  };
  localTenantId: string;
  /** 32 bytes; undefined in local mode until main loads or creates DATA_DIR/keys/master.key. */
  masterKey?: Buffer;
  /** DATA_KEY_ROOT: 32 bytes, the root of the key that wraps workspace data keys; undefined: the master key is that root. */
  dataKeyRoot?: Buffer;
  /** DATA_KEY_ROOT_PREVIOUS: the root DATA_KEY_ROOT replaced, during a rotation (`npm run keys:rotate` re-wraps what it wrapped). */
  dataKeyRootPrevious?: Buffer;
  /** DATA_KEY_VAULT_KEY (without a trailing slash) and DATA_KEY_VAULT_IDENTITY: the data keys' KEK in Azure Key Vault; undefined: the local KEK wraps. */
  dataKeyVault?: { keyUrl: string; identityClientId?: string };
  entra: { clientId?: string; apiUri?: string; clientSecret?: string; authorityHost: string };
  sessions: { idleMinutes: number; absoluteHours: number; cookieSecure: boolean };
  trustProxy: boolean | number | string;
  /** Other origins of our own whose pages may call the API with a bearer token (CORS); none by default. */
  allowedOrigins: string[];
  credentials: { bcryptCost: number; hibpBaseUrl: string; hibpTimeoutMs: number; freeAttemptsPerAccount: number; freeAttemptsPerIp: number; maxWaitSeconds: number; attemptRetentionDays: number };
  mail: { smtpUrl?: string; from?: string };
  /** The retention sweeper: minutes between scheduled sweeps (0 = off) and days before a terminated workspace is erased. */
  retention: { sweepIntervalMinutes: number; terminatedWorkspaceEraseDays: number };
  playgroundPort: number;
  /** OpenTelemetry traces of turns (api/operations/otelTracing.ts); exporter none = nothing traced or sent. */
  tracing: { exporter: 'none' | 'otlp' | 'console'; endpoint: string; serviceName: string; environment: string; sampleRatio: number };
}

export class ConfigError extends KluisError {
  constructor(message: string) {
    super('config_invalid', message);
    this.name = 'ConfigError';
  }
}

/** Settings a profile fills in when the environment leaves them unset. */
const profileDefaults: Record<'production' | 'local', Record<string, string>> = {
  production: {},
  // `npm start`: explicit local mode with the demo documents, so a newcomer can chat at once.
  local: { LOCAL_MODE: 'true', KNOWLEDGE_DIR: 'demo/knowledge' },
};

export interface LoadOptions {
  profile?: 'production' | 'local';
  /** Directory the relative paths and the `.env` file are resolved against. */
  cwd?: string;
  /** Read `.env` from cwd (default true). */
  dotenv?: boolean;
}

/** Parse and validate settings; throws ConfigError with one clear line on the first problem. */
export function loadConfig(env: Record<string, string | undefined>, options: LoadOptions = {}): Config {
  const cwd = options.cwd ?? process.cwd();
  const fromFile = options.dotenv === false ? {} : readDotenv(path.join(cwd, '.env'));
  const merged: Record<string, string | undefined> = { ...profileDefaults[options.profile ?? 'production'], ...fromFile };
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') merged[k] = v;
  for (const k of Object.keys(merged)) if (merged[k] === '') delete merged[k];

  const parsed = environmentSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const name = String(issue.path[0] ?? 'environment');
    const got = merged[name];
    const shown = got === undefined ? 'it is not set' : name.includes('PASSWORD') || name.includes('KEY') || name.includes('URL') ? 'the value given is not valid' : `got "${got.slice(0, 60)}"`;
    throw new ConfigError(`Setting ${name}: ${issue.message} (${shown}). See .env.example.`);
  }
  const e = parsed.data;
  const resolve = (p: string) => path.resolve(cwd, p);
  const dataDir = resolve(e.DATA_DIR);
  return {
    localMode: e.LOCAL_MODE,
    // Local mode never listens beyond this machine, whatever HOST says.
    http: { host: e.LOCAL_MODE ? '127.0.0.1' : e.HOST, port: e.PORT, publicUrl: e.PUBLIC_URL },
    logLevel: e.LOG_LEVEL,
    bot: {
      appId: e.BOT_ID,
      appPassword: e.BOT_PASSWORD,
      appType: e.BOT_TYPE,
      tenantId: e.BOT_TENANT_ID,
      openIdMetadataUrl: e.BOT_OPENID_METADATA_URL,
      serviceUrlHosts: e.BOT_SERVICE_URL_HOSTS.split(',').map((h) => h.trim().toLowerCase()).filter(Boolean),
      oauthConnection: e.BOT_OAUTH_CONNECTION,
      oauthUrl: e.BOT_OAUTH_URL?.replace(/\/+$/, ''),
    },
    dataDir,
    database: { url: e.DATABASE_URL, poolSize: e.DATABASE_POOL_SIZE },
    graph: { baseUrl: e.GRAPH_BASE_URL.replace(/\/+$/, '') },
    knowledge: {
      syncIntervalSeconds: e.KNOWLEDGE_SYNC_INTERVAL_SECONDS,
      dir: e.KNOWLEDGE_DIR ? resolve(e.KNOWLEDGE_DIR) : undefined,
      tenantId: e.KNOWLEDGE_TENANT_ID ?? (e.LOCAL_MODE ? e.LOCAL_TENANT_ID : undefined),
      watch: e.KNOWLEDGE_WATCH,
      maxFileBytes: Math.round(e.KNOWLEDGE_MAX_FILE_MB * 1024 * 1024),
      minCoverage: e.RETRIEVAL_MIN_COVERAGE,
      indexDir: e.INDEX_DIR ? resolve(e.INDEX_DIR) : path.join(dataDir, 'index'),
      topK: e.RETRIEVAL_TOP_K,
    },
    embedder: embedderConfig(e),
    searchIndex: { kind: e.SEARCH_INDEX, qdrant: e.QDRANT_URL ? { url: e.QDRANT_URL, apiKey: e.QDRANT_API_KEY, collection: e.QDRANT_COLLECTION } : undefined },
    blobDir: e.BLOB_DIR ? resolve(e.BLOB_DIR) : path.join(dataDir, 'blobs'),
    files: { maxUploadBytes: Math.round(e.UPLOAD_MAX_FILE_MB * 1024 * 1024), downloadLinkSeconds: e.DOWNLOAD_LINK_SECONDS },
    blobStore: {
      kind: e.BLOB_STORE,
      minio:
        e.MINIO_ENDPOINT && e.MINIO_ACCESS_KEY && e.MINIO_SECRET_KEY
          ? { endPoint: e.MINIO_ENDPOINT, port: e.MINIO_PORT, useSSL: e.MINIO_USE_SSL, accessKey: e.MINIO_ACCESS_KEY, secretKey: e.MINIO_SECRET_KEY, region: e.MINIO_REGION, bucketPrefix: e.MINIO_BUCKET_PREFIX }
          : undefined,
    },
    assistant: {
      routing: routingPolicy(e),
      openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL, timeoutMs: e.OPENAI_TIMEOUT_MS, maxRetries: e.OPENAI_MAX_RETRIES },
      azureOpenai: {
        // Without endpoint and deployment the key is useless; validation above makes them come together.
        apiKey: e.AZURE_OPENAI_ENDPOINT && e.AZURE_OPENAI_DEPLOYMENT ? e.AZURE_OPENAI_API_KEY : undefined,
        baseUrl: e.AZURE_OPENAI_ENDPOINT,
        model: e.AZURE_OPENAI_DEPLOYMENT ?? '',
        apiVersion: e.AZURE_OPENAI_API_VERSION,
        timeoutMs: e.AZURE_OPENAI_TIMEOUT_MS,
        maxRetries: e.AZURE_OPENAI_MAX_RETRIES,
      },
      anthropic: { apiKey: e.ANTHROPIC_API_KEY, baseUrl: e.ANTHROPIC_BASE_URL, model: e.ANTHROPIC_MODEL, timeoutMs: e.ANTHROPIC_TIMEOUT_MS, maxRetries: e.ANTHROPIC_MAX_RETRIES },
      gemini: { apiKey: e.GEMINI_API_KEY, baseUrl: e.GEMINI_BASE_URL, model: e.GEMINI_MODEL, timeoutMs: e.GEMINI_TIMEOUT_MS, maxRetries: e.GEMINI_MAX_RETRIES },
      perplexity: { apiKey: e.PERPLEXITY_API_KEY, baseUrl: e.PERPLEXITY_BASE_URL, model: e.PERPLEXITY_MODEL, timeoutMs: e.PERPLEXITY_TIMEOUT_MS, maxRetries: e.PERPLEXITY_MAX_RETRIES },
      stability: { apiKey: e.STABILITY_API_KEY, baseUrl: e.STABILITY_BASE_URL, timeoutMs: e.STABILITY_TIMEOUT_MS, maxRetries: e.STABILITY_MAX_RETRIES },
    },
    usage: { currency: e.USAGE_CURRENCY, prices: e.USAGE_PRICES ?? {} },
    audit: { retentionDays: e.AUDIT_RETENTION_DAYS },
    operations: {
      redisUrl: e.REDIS_URL,
      turns: { perUserPerMinute: e.TURNS_PER_USER_PER_MINUTE, perWorkspacePerMinute: e.TURNS_PER_WORKSPACE_PER_MINUTE },
      shutdownGraceSeconds: e.SHUTDOWN_GRACE_SECONDS,
      metricsToken: e.METRICS_TOKEN,
      alertWebhook: e.ALERT_WEBHOOK_URL ? { url: e.ALERT_WEBHOOK_URL, timeoutMs: e.ALERT_WEBHOOK_TIMEOUT_MS } : undefined,
      alerts: {
        loginFailures: { threshold: e.ALERT_LOGIN_FAILURES, windowSeconds: e.ALERT_LOGIN_FAILURES_WINDOW_SECONDS },
        documentReads: { threshold: e.ALERT_DOCUMENT_READS, windowSeconds: e.ALERT_DOCUMENT_READS_WINDOW_SECONDS },
        authorizationRefusals: { threshold: e.ALERT_AUTHORIZATION_REFUSALS, windowSeconds: e.ALERT_AUTHORIZATION_REFUSALS_WINDOW_SECONDS },
        providerErrors: { threshold: e.ALERT_PROVIDER_ERRORS, windowSeconds: e.ALERT_PROVIDER_ERRORS_WINDOW_SECONDS },
      },
    },
    localTenantId: e.LOCAL_TENANT_ID,
    masterKey: e.MASTER_KEY ? Buffer.from(e.MASTER_KEY, 'hex') : undefined,
    dataKeyRoot: e.DATA_KEY_ROOT ? Buffer.from(e.DATA_KEY_ROOT, 'hex') : undefined,
    dataKeyRootPrevious: e.DATA_KEY_ROOT_PREVIOUS ? Buffer.from(e.DATA_KEY_ROOT_PREVIOUS, 'hex') : undefined,
    dataKeyVault: e.DATA_KEY_VAULT_KEY ? { keyUrl: e.DATA_KEY_VAULT_KEY.replace(/\/+$/, ''), identityClientId: e.DATA_KEY_VAULT_IDENTITY } : undefined,
    entra: { clientId: e.ENTRA_CLIENT_ID, apiUri: e.ENTRA_API_URI, clientSecret: e.ENTRA_CLIENT_SECRET, authorityHost: e.ENTRA_AUTHORITY_HOST.replace(/\/+$/, '') },
    // Local mode runs on http://127.0.0.1, where a Secure cookie would not be sent back.
    sessions: { idleMinutes: e.SESSION_IDLE_MINUTES, absoluteHours: e.SESSION_ABSOLUTE_HOURS, cookieSecure: e.COOKIE_SECURE ?? !e.LOCAL_MODE },
    allowedOrigins: e.ALLOWED_ORIGINS.split(',').map((o) => o.trim().toLowerCase()).filter(Boolean),
    trustProxy: e.TRUST_PROXY === 'false' ? false : e.TRUST_PROXY === 'true' ? true : /^\d+$/.test(e.TRUST_PROXY) ? Number(e.TRUST_PROXY) : e.TRUST_PROXY,
    credentials: {
      bcryptCost: e.BCRYPT_COST,
      hibpBaseUrl: e.HIBP_BASE_URL.replace(/\/+$/, ''),
      hibpTimeoutMs: e.HIBP_TIMEOUT_MS,
      freeAttemptsPerAccount: e.LOGIN_FREE_ATTEMPTS_PER_ACCOUNT,
      freeAttemptsPerIp: e.LOGIN_FREE_ATTEMPTS_PER_IP,
      maxWaitSeconds: e.LOGIN_MAX_WAIT_SECONDS,
      attemptRetentionDays: e.LOGIN_ATTEMPT_RETENTION_DAYS,
    },
    mail: { smtpUrl: e.SMTP_URL, from: e.MAIL_FROM },
    retention: { sweepIntervalMinutes: e.RETENTION_SWEEP_INTERVAL_MINUTES, terminatedWorkspaceEraseDays: e.TERMINATED_WORKSPACE_ERASE_DAYS },
    onboardTenants: (e.ONBOARD_TENANTS ?? '')
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const [tenantId, name] = pair.split('=') as [string, string];
        return { tenantId: tenantId.trim().toLowerCase(), name: name.trim() };
      }),
    playgroundPort: e.PLAYGROUND_PORT,
    tracing: {
      exporter: e.OTEL_TRACES_EXPORTER,
      endpoint: e.OTEL_EXPORTER_OTLP_ENDPOINT.replace(/\/+$/, ''),
      serviceName: e.OTEL_SERVICE_NAME,
      environment: e.OTEL_DEPLOYMENT_ENVIRONMENT ?? (e.LOCAL_MODE ? 'local' : 'production'),
      sampleRatio: e.OTEL_TRACES_SAMPLER_ARG,
    },
  };
}

function readDotenv(file: string): Record<string, string> {
  try {
    return parseDotenv(fs.readFileSync(file));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ConfigError(`The .env file could not be read: ${(error as Error).message}`);
  }
}

interface ProviderSettings {
  /** Undefined when the provider has no key: it is then never offered. */
  apiKey?: string;
  baseUrl?: string;
  model: string;
  timeoutMs: number;
  maxRetries: number;
}

/**
 * The routing policy the environment sets. Default provider: ASSISTANT_PROVIDER, else the first
 * paid provider with a key (OpenAI, Azure OpenAI, Anthropic, Gemini, Perplexity), else extractive.
 * Allowed: ASSISTANT_ALLOWED_PROVIDERS, else the default followed by every other provider with a key.
 */
function routingPolicy(e: Environment): Config['assistant']['routing'] {
  const keyed = (Object.keys(PROVIDER_KEY) as Array<Exclude<Provider, 'extractive'>>).filter((p) => Boolean(e[PROVIDER_KEY[p] as keyof Environment]));
  const defaultProvider: Provider = e.ASSISTANT_PROVIDER ?? keyed[0] ?? 'extractive';
  const allowed: Provider[] = e.ASSISTANT_ALLOWED_PROVIDERS ?? [...new Set<Provider>([defaultProvider, ...keyed, ...(e.ASSISTANT_WEB_PROVIDER ? [e.ASSISTANT_WEB_PROVIDER] : []), ...(e.ASSISTANT_LONG_CONTEXT_PROVIDER ? [e.ASSISTANT_LONG_CONTEXT_PROVIDER] : [])])];
  const rules: Config['assistant']['routing']['rules'] = [];
  if (e.ASSISTANT_WEB_PROVIDER) rules.push({ when: 'web', provider: e.ASSISTANT_WEB_PROVIDER });
  if (e.ASSISTANT_LONG_CONTEXT_PROVIDER) rules.push({ when: 'long-context', minChars: e.ASSISTANT_LONG_CONTEXT_MIN_CHARS, provider: e.ASSISTANT_LONG_CONTEXT_PROVIDER });
  return { defaultProvider, allowed, rules, ...(e.ASSISTANT_MAX_ATTEMPTS ? { maxAttempts: e.ASSISTANT_MAX_ATTEMPTS } : {}) };
}
