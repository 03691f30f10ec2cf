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
    RETRIEVAL_TOP_K: z.coerce.number({ message: 'expected a number' }).int().min(1, 'expected 1 to 20').max(20, 'expected 1 to 20').default(4),

    ASSISTANT_PROVIDER: z.enum(['extractive', 'openai'], { message: 'expected extractive or openai' }).optional(),
    OPENAI_API_KEY: z.string().min(1).optional(),
    OPENAI_BASE_URL: httpUrl.optional(),
    OPENAI_MODEL: z.string().min(1).default('gpt-4o-mini'),
    OPENAI_TIMEOUT_MS: z.coerce.number({ message: 'expected milliseconds' }).int().min(1000).max(600000).default(60000),
    OPENAI_MAX_RETRIES: z.coerce.number({ message: 'expected a number' }).int().min(0).max(10).default(2),

    MASTER_KEY: z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected 64 hex characters (32 random bytes, e.g. openssl rand -hex 32)').optional(),
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
    if (env.ASSISTANT_PROVIDER === 'openai' && !env.OPENAI_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['OPENAI_API_KEY'], message: 'required when ASSISTANT_PROVIDER=openai' });
    }
  });

export type Environment = z.infer<typeof environmentSchema>;

/** Every setting's name, for documentation checks. */
export const SETTING_NAMES: readonly string[] = Object.keys(environmentSchema.innerType().shape);

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
  graph: { baseUrl: string };
  knowledge: { syncIntervalSeconds: number; dir?: string; tenantId?: string; watch: boolean; maxFileBytes: number; indexDir: string; topK: number; minCoverage: number };
  onboardTenants: Array<{ tenantId: string; name: string }>;
  blobDir: string;
  /** Uploaded files: the largest accepted, and how long a signed download link stays valid. */
  files: { maxUploadBytes: number; downloadLinkSeconds: number };
  blobStore: { kind: 'folder' | 'minio'; minio?: { endPoint: string; port?: number; useSSL: boolean; accessKey: string; secretKey: string; region: string; bucketPrefix: string } };
  assistant: {
    provider: 'extractive' | 'openai';
    openai: { apiKey?: string; baseUrl?: string; model: string; timeoutMs: number; maxRetries: number };
  };
  localTenantId: string;
  /** 32 bytes; undefined in local mode until main loads or creates DATA_DIR/keys/master.key. */
  masterKey?: Buffer;
  entra: { clientId?: string; apiUri?: string; clientSecret?: string; authorityHost: string };
  sessions: { idleMinutes: number; absoluteHours: number; cookieSecure: boolean };
  trustProxy: boolean | number | string;
  /** Other origins of our own whose pages may call the API with a bearer token (CORS); none by default. */
  allowedOrigins: string[];
  credentials: { bcryptCost: number; hibpBaseUrl: string; hibpTimeoutMs: number; freeAttemptsPerAccount: number; freeAttemptsPerIp: number; maxWaitSeconds: number; attemptRetentionDays: number };
  mail: { smtpUrl?: string; from?: string };
  playgroundPort: number;
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
      provider: e.ASSISTANT_PROVIDER ?? (e.OPENAI_API_KEY ? 'openai' : 'extractive'),
      openai: { apiKey: e.OPENAI_API_KEY, baseUrl: e.OPENAI_BASE_URL, model: e.OPENAI_MODEL, timeoutMs: e.OPENAI_TIMEOUT_MS, maxRetries: e.OPENAI_MAX_RETRIES },
    },
    localTenantId: e.LOCAL_TENANT_ID,
    masterKey: e.MASTER_KEY ? Buffer.from(e.MASTER_KEY, 'hex') : undefined,
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
    onboardTenants: (e.ONBOARD_TENANTS ?? '')
      .split(',')
      .map((pair) => pair.trim())
      .filter(Boolean)
      .map((pair) => {
        const [tenantId, name] = pair.split('=') as [string, string];
        return { tenantId: tenantId.trim().toLowerCase(), name: name.trim() };
      }),
    playgroundPort: e.PLAYGROUND_PORT,
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
