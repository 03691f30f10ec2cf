/**
 * Kluis in a process of its own, started the way production starts it (`npm run serve`, i.e.
 * api/serve.ts, here as `node --import tsx api/serve.ts` so the spawned pid is Kluis itself and
 * its memory can be read from /proc), for load tests and benchmarks that must talk to it over
 * real HTTP between processes.
 *
 * The environment is the caller's settings on top of a clean one: no Kluis setting of the
 * developer's shell leaks in. The child's output (pino JSON lines) is drained; its tail explains a
 * failed start, and every line at level error or above is kept for the caller to check.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { freePort } from '../../bench/processes';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Kluis settings (and dotenv's) a developer's shell may carry. */
const KLUIS_SETTING = /^(LOCAL_MODE|HOST|PORT|PUBLIC_URL|LOG_LEVEL|BOT_.*|DATA_DIR|DATABASE_.*|KNOWLEDGE_.*|INDEX_DIR|BLOB_.*|SEARCH_INDEX|QDRANT_.*|MINIO_.*|EMBEDDER|RETRIEVAL_.*|ASSISTANT_.*|OPENAI_.*|AZURE_OPENAI_.*|ANTHROPIC_.*|GEMINI_.*|PERPLEXITY_.*|STABILITY_.*|COHERE_.*|MASTER_KEY|DATA_KEY_ROOT|DATA_KEY_ROOT_PREVIOUS|DATA_KEY_VAULT_.*|ENTRA_.*|REDIS_URL|TURNS_.*|SHUTDOWN_GRACE_SECONDS|OTEL_.*|LOCAL_TENANT_ID|ONBOARD_TENANTS|PLAYGROUND_PORT|METRICS_TOKEN|ALERT_.*|SMTP_URL|MAIL_FROM|NODE_OPTIONS)$/;

export interface KluisProcess {
  /** e.g. http://127.0.0.1:41234 */
  url: string;
  pid: number;
  /** Resident set size of the Kluis process now, in MB (VmRSS from /proc). */
  rssMb(): number;
  /** Log lines at level error (50) or above since start, as written. */
  errorLines(): string[];
  /** How the process ended (`exited with code 0`, `exited with SIGKILL`, ...), undefined while it runs. */
  exitStatus(): string | undefined;
  /** The last lines of output, for explaining a failure. */
  tail(): string[];
  /** SIGTERM (serve.ts stops cleanly on it), SIGKILL if it has not exited within `graceMs` (15 s). */
  stop(graceMs?: number): Promise<void>;
}

/** Production settings that have nothing to do with a load on loopback, filled in for a start. */
export function productionBasics(): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    BOT_ID: randomUUID(),
    BOT_PASSWORD: randomBytes(16).toString('hex'),
    BOT_TENANT_ID: randomUUID(),
    MASTER_KEY: randomBytes(32).toString('hex'),
    KNOWLEDGE_WATCH: 'false',
    RETENTION_SWEEP_INTERVAL_MINUTES: '0',
    LOG_LEVEL: 'info',
  };
}

export function rssMbOf(pid: number): number {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    return Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0) / 1024;
  } catch {
    return 0;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Starts api/serve.ts with `env` (a PORT is picked when none is given) and waits until GET
 * /readyz answers 200.
 */
export async function startKluisProcess(env: Record<string, string>, options: { readyTimeoutMs?: number; /** e.g. --cpu-prof */ nodeArgs?: string[]; /** Every line of output, as it comes. */ onLine?: (line: string) => void } = {}): Promise<KluisProcess> {
  const port = env.PORT ?? String(await freePort());
  const clean: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!KLUIS_SETTING.test(key)) clean[key] = value;
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), '--import', 'tsx', 'api/serve.ts'], {
    cwd: REPO_ROOT,
    env: { ...clean, ...env, PORT: port },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const errors: string[] = [];
  const keep = (stream: NodeJS.ReadableStream) => {
    let partial = '';
    stream.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        if (!line) continue;
        options.onLine?.(line);
        tail.push(line);
        const level = /^\{"level":(\d+)/.exec(line)?.[1];
        if ((level && Number(level) >= 50) || (!level && stream === child.stderr)) errors.push(line);
      }
      if (tail.length > 200) tail.splice(0, tail.length - 100);
    });
  };
  keep(child.stdout!);
  keep(child.stderr!);
  let exited: string | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = `exited with ${signal ?? `code ${code}`}`;
      resolve();
    });
    child.once('error', (error) => {
      exited = `could not be spawned: ${error.message}`;
      resolve();
    });
  });
  const stop = async (graceMs = 15_000) => {
    if (exited) return;
    child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const done = await Promise.race([exit.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), graceMs)))]);
    clearTimeout(timer);
    if (!done) {
      child.kill('SIGKILL');
      await exit;
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = performance.now() + (options.readyTimeoutMs ?? 120_000);
  for (;;) {
    if (exited) throw new Error(`Kluis ${exited} before it was ready:\n${tail.slice(-20).join('\n')}`);
    try {
      const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(2000) });
      await response.text();
      if (response.status === 200) break;
    } catch {
      // not listening yet
    }
    if (performance.now() > deadline) {
      await stop(5_000);
      throw new Error(`Kluis did not become ready at ${url}:\n${tail.slice(-20).join('\n')}`);
    }
    await sleep(100);
  }
  return {
    url,
    pid: child.pid!,
    rssMb: () => rssMbOf(child.pid!),
    errorLines: () => [...errors],
    exitStatus: () => exited,
    tail: () => [...tail],
    stop,
  };
}
