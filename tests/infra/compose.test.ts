/**
 * infra/docker-compose.yml and the Dockerfile: what `docker-compose config` and the Compose
 * Specification schema check, and the rules they do not know (one published port, health checks,
 * secrets only by interpolation, every variable documented, Kluis's settings spelled as in
 * api/config.ts, pinned images, the MariaDB encryption options of the private instance).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Ajv2019 from 'ajv/dist/2019';
import { parse } from 'yaml';
import { loadConfig } from '../../api/config';

const ROOT = path.resolve(__dirname, '..', '..');
const COMPOSE_FILE = path.join(ROOT, 'infra', 'docker-compose.yml');
const ENV_EXAMPLE = path.join(ROOT, 'infra', '.env.example');
const COMPOSE_SPEC = '/usr/lib/python3/dist-packages/compose/config/compose_spec.json';
const ENVIRONMENTS = ['dev', 'staging', 'prod'];

interface Service {
  image?: string;
  ports?: unknown[];
  expose?: unknown[];
  healthcheck?: { test?: unknown; disable?: boolean };
  environment?: Record<string, string> | string[];
  networks?: string[] | Record<string, unknown>;
  env_file?: string[];
  profiles?: string[];
  restart?: string;
}
interface ComposeFile {
  services: Record<string, Service>;
  networks: Record<string, { internal?: boolean } | null>;
  secrets: Record<string, { file?: string }>;
}

const raw = fs.readFileSync(COMPOSE_FILE, 'utf8');
const compose = parse(raw, { merge: true }) as ComposeFile;

/** Names and values of an env file (KEY=value lines; comments and blanks skipped). */
function readEnvFile(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

/** The variable names api/config.ts's environment schema declares. */
function configSettingNames(): Set<string> {
  const source = fs.readFileSync(path.join(ROOT, 'api', 'config.ts'), 'utf8');
  const start = source.indexOf('const environmentSchema = z');
  const end = source.indexOf('.superRefine(', start);
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return new Set([...source.slice(start, end).matchAll(/^ {4}([A-Z][A-Z0-9_]*):/gm)].map((m) => m[1]!));
}

function environmentOf(service: Service): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((e) => [e.split('=')[0]!, e.slice(e.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

const SECRET_NAME = /(PASSWORD|SECRET|_KEY|_KEY_ROOT|_KEY_ROOT_PREVIOUS|TOKEN|AUTH)$|^MC_HOST_|_URL$/;
/** A literal credential: anything but an interpolation where a secret goes. */
function secretProblems(name: string, value: string): string | undefined {
  const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^@/]*)@/i.exec(value);
  if (userinfo) {
    const password = userinfo[1]!.includes(':') ? userinfo[1]!.slice(userinfo[1]!.indexOf(':') + 1) : '';
    return /^\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}$/.test(password) ? undefined : `${name} has a literal password in its URL`;
  }
  if (!SECRET_NAME.test(name) || name.endsWith('_URL')) return undefined;
  if (value.startsWith('/run/secrets/')) return undefined;
  return /\$\{[A-Z0-9_]+(:?[?-][^}]*)?\}/.test(value) ? undefined : `${name} is a literal, not \${VAR}`;
}

/** A complete env file for one environment, with values api/config.ts accepts, and the secret files. */
function sampleEnvironment(environment: string, overrides: Record<string, string> = {}): { envFile: string; dir: string } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-compose-'));
  for (const f of ['mariadb-keyfile', 'ca.crt', 'qdrant.crt', 'qdrant.key']) fs.writeFileSync(path.join(dir, f), 'placeholder\n');
  fs.mkdirSync(path.join(dir, 'minio-certs'));
  const values = new Map(readEnvFile(ENV_EXAMPLE));
  for (const [k, v] of values) if (v === '') values.set(k, `${k.toLowerCase().replace(/_/g, '')}0123456789`);
  const guid = '11111111-2222-3333-4444-555555555555';
  const fixed: Record<string, string> = {
    COMPOSE_PROJECT_NAME: `kluis-${environment}`,
    KLUIS_ENVIRONMENT: environment,
    KLUIS_SECRETS_DIR: dir,
    BOT_ID: guid,
    BOT_TENANT_ID: guid,
    ONBOARD_TENANTS: `${guid}=Example`,
    MASTER_KEY: 'ab'.repeat(32),
    DATA_KEY_ROOT: 'cd'.repeat(32),
    DATA_KEY_ROOT_PREVIOUS: '',
    ENTRA_CLIENT_ID: guid,
    ENTRA_API_URI: `api://kluis.example.com/${guid}`,
    AZURE_OPENAI_ENDPOINT: '',
    AZURE_OPENAI_DEPLOYMENT: '',
    AZURE_OPENAI_API_KEY: '',
    SMTP_URL: '',
    MAIL_FROM: '',
    REDIS_URL: 'redis://:redispassword0123456789@redis:6379/0',
    BOT_OAUTH_CONNECTION: '',
    ...overrides,
  };
  for (const [k, v] of Object.entries(fixed)) values.set(k, v);
  const envFile = path.join(dir, 'env');
  fs.writeFileSync(envFile, [...values].map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  return { envFile, dir };
}

function dockerCompose(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync('docker-compose', ['-f', COMPOSE_FILE, ...args], { encoding: 'utf8', cwd: ROOT });
  if (r.error) throw new Error(`docker-compose is needed for this test (apt-get install -y --no-install-recommends docker-compose; .ci/run installs it): ${r.error.message}`);
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

describe('docker-compose config', () => {
  it.each(ENVIRONMENTS)('accepts the file with a complete %s env file, and the Kluis environment it renders passes api/config.ts', (environment) => {
    const { envFile, dir } = sampleEnvironment(environment);
    try {
      const r = dockerCompose(['--env-file', envFile, '--profile', 'cache', 'config']);
      expect(r.stderr).not.toMatch(/error|invalid/i);
      expect(r.status).toBe(0);
      const rendered = parse(r.stdout) as ComposeFile;
      expect(Object.keys(rendered.services).sort()).toEqual(['kluis', 'mariadb', 'minio', 'minio-init', 'qdrant', 'redis']);
      const env = environmentOf(rendered.services.kluis!);
      const { NODE_EXTRA_CA_CERTS, ...settings } = env;
      expect(NODE_EXTRA_CA_CERTS).toBe('/run/secrets/tls_ca');
      const config = loadConfig(settings, { dotenv: false });
      expect(config.localMode).toBe(false);
      expect(config.searchIndex.kind).toBe('qdrant');
      expect(config.searchIndex.qdrant?.url).toBe('https://qdrant:6333');
      expect(config.blobStore.kind).toBe('minio');
      expect(config.blobStore.minio).toMatchObject({ endPoint: 'minio', port: 9000, useSSL: true });
      expect(config.database.url).toMatch(/^mysql:\/\/kluis:[^@]+@mariadb:3306\/kluis$/);
      expect(config.dataKeyRoot?.toString('hex')).toBe('cd'.repeat(32));
      // The environment's own file was read (dev logs at debug, the others at info).
      expect(config.logLevel).toBe(environment === 'dev' ? 'debug' : 'info');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['MASTER_KEY', 'MARIADB_PASSWORD', 'QDRANT_API_KEY', 'MINIO_KMS_SECRET_KEY', 'KLUIS_ENVIRONMENT'])('refuses to render without %s, naming it', (name) => {
    const { envFile, dir } = sampleEnvironment('prod', { [name]: '' });
    try {
      const r = dockerCompose(['--env-file', envFile, 'config', '-q']);
      expect(r.status).not.toBe(0);
      expect(r.stderr).toContain(name);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Compose Specification schema', () => {
  // The schema docker-compose ships; its draft-04 style "id" keys are dropped for Ajv.
  if (!fs.existsSync(COMPOSE_SPEC)) throw new Error(`${COMPOSE_SPEC} is missing: apt-get install -y --no-install-recommends docker-compose (Debian's package ships the Compose Specification schema; .ci/run installs it)`);
  const schema = JSON.parse(fs.readFileSync(COMPOSE_SPEC, 'utf8'), (k: string, v: unknown) => (k === 'id' && typeof v === 'string' ? undefined : v)) as Record<string, unknown>;
  delete schema.$schema;
  const ajv = new Ajv2019({ strict: false, allErrors: true, logger: false });
  ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
  for (const f of ['expose', 'ports', 'subnet_ip_address']) ajv.addFormat(f, true);
  const validate = ajv.compile(schema);

  it('validates infra/docker-compose.yml', () => {
    expect(validate(compose) ? [] : validate.errors).toEqual([]);
  });

  it('rejects an unknown service key and a malformed health check interval (the schema is really applied)', () => {
    const broken = parse(raw, { merge: true }) as ComposeFile & { services: Record<string, Record<string, unknown>> };
    broken.services.kluis!.listen = '0.0.0.0';
    expect(validate(broken)).toBe(false);
    const badInterval = parse(raw, { merge: true }) as ComposeFile;
    (badInterval.services.mariadb!.healthcheck as Record<string, unknown>).interval = 'ten seconds';
    expect(validate(badInterval)).toBe(false);
  });
});

describe('infra/docker-compose.yml rules', () => {
  const services = Object.entries(compose.services);

  it('publishes ports for Kluis only, and puts every other service on the internal network alone', () => {
    expect(services.filter(([, s]) => s.ports?.length).map(([n]) => n)).toEqual(['kluis']);
    expect(compose.networks.backend).toEqual({ internal: true });
    for (const [name, s] of services) {
      if (name === 'kluis') continue;
      expect([name, s.networks]).toEqual([name, ['backend']]);
    }
    // Kluis's port is bound to loopback unless the operator says otherwise.
    expect(compose.services.kluis!.ports).toEqual(['${KLUIS_BIND:-127.0.0.1}:${KLUIS_PORT:-3978}:3978']);
  });

  it('gives every service a health check', () => {
    for (const [name, s] of services) {
      expect([name, Array.isArray(s.healthcheck?.test) && !s.healthcheck?.disable]).toEqual([name, true]);
    }
  });

  it('takes every secret-looking value from ${VAR} interpolation or a secret file, never a literal', () => {
    const problems = services.flatMap(([name, s]) =>
      Object.entries(environmentOf(s)).map(([k, v]) => secretProblems(k, v)).filter(Boolean).map((p) => `${name}: ${p}`),
    );
    expect(problems).toEqual([]);
    // The rule itself catches literals.
    expect(secretProblems('MASTER_KEY', 'ab'.repeat(32))).toBeDefined();
    expect(secretProblems('DATABASE_URL', 'mysql://kluis:hunter2@mariadb:3306/kluis')).toBeDefined();
    expect(secretProblems('DATABASE_URL', 'mysql://kluis:${MARIADB_PASSWORD:?x}@mariadb:3306/kluis')).toBeUndefined();
  });

  it('lists every ${VAR} the file uses in infra/.env.example, with no value filled in for secrets', () => {
    const documented = readEnvFile(ENV_EXAMPLE);
    const code = raw.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    const used = new Set([...code.replace(/\$\$/g, '').matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)].map((m) => m[1]!));
    expect([...used].filter((v) => !documented.has(v))).toEqual([]);
    const filledSecrets = [...documented].filter(([k, v]) => SECRET_NAME.test(k) && !k.endsWith('_URL') && v !== '');
    expect(filledSecrets).toEqual([]);
  });

  it("spells Kluis's settings as api/config.ts does (compose file and every environment's file)", () => {
    const names = configSettingNames();
    expect(names.has('DATABASE_URL')).toBe(true);
    const kluisEnv = Object.keys(environmentOf(compose.services.kluis!)).filter((k) => k !== 'NODE_EXTRA_CA_CERTS');
    expect(kluisEnv.filter((k) => !names.has(k))).toEqual([]);
    for (const environment of ENVIRONMENTS) {
      const file = path.join(ROOT, 'infra', 'compose', `${environment}.env`);
      expect([environment, [...readEnvFile(file).keys()].filter((k) => !names.has(k))]).toEqual([environment, []]);
    }
    expect(compose.services.kluis!.env_file).toEqual(['compose/${KLUIS_ENVIRONMENT:?set KLUIS_ENVIRONMENT to dev, staging or prod}.env']);
  });

  it('pins every image to a version tag (no latest, no bare name)', () => {
    for (const [name, s] of services) {
      const tag = /:([^:/]+)$/.exec(s.image ?? '')?.[1];
      expect([name, tag !== undefined && tag !== 'latest' && /\d/.test(tag)]).toEqual([name, true]);
    }
  });

  it('configures MariaDB with every encryption option of the private instance (api/db/embeddedMariadb.ts)', () => {
    const source = fs.readFileSync(path.join(ROOT, 'api', 'db', 'embeddedMariadb.ts'), 'utf8');
    const block = source.slice(source.indexOf('...(encryption'), source.indexOf(': []),', source.indexOf('...(encryption')));
    const options = [...block.matchAll(/'([a-z_]+) = ([^']+)'/g)].map((m): [string, string] => [m[1]!, m[2]!]);
    expect(options.length).toBeGreaterThanOrEqual(10);
    const cnf = new Map(
      fs
        .readFileSync(path.join(ROOT, 'infra', 'compose', 'mariadb', 'encryption.cnf'), 'utf8')
        .split('\n')
        .map((l) => /^([a-z_]+)\s*=\s*(.+)$/.exec(l.trim()))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m): [string, string] => [m[1]!, m[2]!.trim()]),
    );
    expect(options.filter(([k, v]) => cnf.get(k) !== v)).toEqual([]);
    // The key file is the mounted secret.
    expect(cnf.get('file_key_management_filename')).toBe('/run/secrets/mariadb-keyfile');
    expect(compose.services.mariadb!.image).toMatch(/^mariadb:11\./);
  });

  it('turns on TLS and the API key for Qdrant, encryption and an init container for MinIO, and a password for Redis', () => {
    const qdrant = environmentOf(compose.services.qdrant!);
    expect(qdrant.QDRANT__SERVICE__ENABLE_TLS).toBe('true');
    expect(qdrant.QDRANT__SERVICE__API_KEY).toMatch(/^\$\{QDRANT_API_KEY:\?/);
    expect(environmentOf(compose.services.kluis!).QDRANT_URL).toMatch(/^https:/);
    expect(environmentOf(compose.services.minio!).MINIO_KMS_SECRET_KEY).toMatch(/^[a-z-]+:\$\{MINIO_KMS_SECRET_KEY:\?/);
    const init = fs.readFileSync(path.join(ROOT, 'infra', 'compose', 'minio', 'minio-init.sh'), 'utf8');
    expect(init).toMatch(/mc anonymous set none/);
    expect(init).toMatch(/mc encrypt set sse-s3/);
    expect(environmentOf(compose.services.redis!).REDISCLI_AUTH).toMatch(/^\$\{REDIS_PASSWORD:\?/);
    expect(JSON.stringify(compose.services.redis)).toContain('--requirepass');
  });
});

describe('Dockerfile', () => {
  const dockerfile = fs.readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');
  const instructions = dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));
  const stages = instructions.reduce<string[][]>((acc, l) => (l.startsWith('FROM ') ? [...acc, [l]] : (acc[acc.length - 1]!.push(l), acc)), []);
  const runtime = stages[stages.length - 1]!;

  it('is multi-stage on node 20 bookworm-slim with a pinned tag', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const s of stages) expect(s[0]).toMatch(/^FROM node:20(\.\d+)*-bookworm-slim( AS \w+)?$/);
  });

  it('copies the lockfile and installs from it before the sources, then builds the web pages', () => {
    const build = stages[0]!;
    const lock = build.findIndex((l) => /^COPY .*package-lock\.json/.test(l));
    const install = build.findIndex((l) => /^RUN .*npm (ci|install)/.test(l));
    const sources = build.findIndex((l) => l === 'COPY . .');
    expect(lock).toBeGreaterThan(0);
    expect(install).toBeGreaterThan(lock);
    expect(sources).toBeGreaterThan(install);
    expect(build[install]).toMatch(/cmp -s package-lock\.json/);
    expect(build.slice(sources).some((l) => /npm run build:web/.test(l))).toBe(true);
  });

  it('copies only files that exist, and everything postinstall needs before the install', () => {
    const build = stages[0]!;
    const install = build.findIndex((l) => /^RUN .*npm (ci|install)/.test(l));
    const copied = build.slice(0, install).filter((l) => l.startsWith('COPY ')).flatMap((l) => l.split(/\s+/).slice(1, -1).filter((a) => !a.startsWith('--')));
    for (const source of copied) expect([source, fs.existsSync(path.join(ROOT, source))]).toEqual([source, true]);
    const postinstall = (JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.postinstall ?? '';
    for (const script of postinstall.match(/[\w./-]+\.ts\b/g) ?? []) expect(copied.some((c) => script === c || script.startsWith(`${c.replace(/\/$/, '')}/`))).toBe(true);
    // The Prisma client is generated inside the image, never copied from the build host.
    expect(fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n')).toContain('api/db/generated');
  });

  it('runs `npm run serve` as a non-root user with a health check on /healthz or /readyz', () => {
    const users = runtime.filter((l) => l.startsWith('USER '));
    expect(users.length).toBeGreaterThan(0);
    expect(users[users.length - 1]).not.toMatch(/^USER (root|0)(:|$)/);
    const health = runtime.find((l) => l.startsWith('HEALTHCHECK '));
    expect(health).toMatch(/\/(healthz|readyz)/);
    expect(runtime[runtime.length - 1]).toBe('CMD ["npm", "run", "serve"]');
  });

  it('holds no secrets: no secret-named ENV or ARG, and .dockerignore keeps env files and keys out', () => {
    const secretVars = instructions.filter((l) => /^(ENV|ARG) /.test(l)).flatMap((l) => [...l.matchAll(/([A-Z_]+)=/g)].map((m) => m[1]!)).filter((k) => SECRET_NAME.test(k));
    expect(secretVars).toEqual([]);
    const ignore = fs.readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
    for (const entry of ['.env', 'infra/.env.*', 'node_modules', '.data', '.git', '*.key', '*.pem']) expect(ignore).toContain(entry);
  });

  it('names no `latest` image, and git ignores filled-in environment files', () => {
    expect(dockerfile).not.toMatch(/:latest\b/);
    expect(execFileSync('git', ['check-ignore', '-q', 'infra/.env.prod'], { cwd: ROOT, stdio: 'pipe' }).length).toBe(0);
  });
});
