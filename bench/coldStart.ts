/**
 * Start-up: how long `npm start` (scripts/start-local.ts through `npx tsx`) takes from spawn until
 * GET /readyz answers 200, once on an empty DATA_DIR (the private MariaDB data folder is created,
 * migrations run, the demo documents are indexed) and once more on the same DATA_DIR (all of that
 * already done), and how much memory Kluis, the Agents Playground and MariaDB hold once idle.
 *
 * Baseline: a bare node HTTP server started the same way (spawn to first 200). A bare server run
 * through `npx tsx` is measured too, so the launcher's share of the start time can be told apart
 * from Kluis's own.
 *
 * Children are stopped with SIGTERM sent to the process that runs Kluis (its handler stops Kluis
 * and MariaDB cleanly), never by name; anything of ours still alive afterwards is reported and
 * killed by pid.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './corpus';
import { freePort, isAlive, portOwner, processTree, type ProcessInfo } from './processes';
import { sleep, summarize, type BenchContext, type BenchResult, type Figure } from './stats';

const READY_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 90_000;

/** Kluis settings a developer's shell may carry; `npm start` is measured on its defaults. */
const KLUIS_SETTING = /^(LOCAL_MODE|HOST|PUBLIC_URL|LOG_LEVEL|BOT_.*|DATA_DIR|DATABASE_.*|KNOWLEDGE_.*|INDEX_DIR|BLOB_DIR|RETRIEVAL_.*|ASSISTANT_PROVIDER|OPENAI_.*|LOCAL_TENANT_ID|ONBOARD_TENANTS|PORT|PLAYGROUND_PORT)$/;

function cleanEnvironment(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!KLUIS_SETTING.test(key)) env[key] = value;
  return { ...env, ...extra };
}

const BARE_SERVER = "require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT), '127.0.0.1')";

interface Started {
  child: ChildProcess;
  readyMs: number;
  output: string[];
}

/** Spawns and polls `url` until it answers 200; the clock starts just before spawn. */
async function startAndWait(command: string, args: string[], env: NodeJS.ProcessEnv, url: string): Promise<Started> {
  const output: string[] = [];
  const keep = (chunk: Buffer) => {
    output.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    // Only the tail is needed to explain a failed start; the pipes must be drained regardless.
    if (output.length > 60) output.splice(0, output.length - 60);
  };
  const started = performance.now();
  const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);
  let exited: string | undefined;
  child.once('exit', (code, signal) => (exited = `exited with ${signal ?? `code ${code}`}`));
  child.once('error', (error) => (exited = `could not be spawned: ${error.message}`));
  const deadline = started + READY_TIMEOUT_MS;
  while (performance.now() < deadline) {
    if (exited) throw new Error(`${command} ${args.join(' ')} ${exited} before ${url} answered:\n${output.slice(-20).join('\n')}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
      await response.text();
      if (response.status === 200) return { child, readyMs: performance.now() - started, output };
    } catch {
      // not listening yet
    }
    await sleep(20);
  }
  child.kill('SIGTERM');
  throw new Error(`${url} did not answer 200 within ${READY_TIMEOUT_MS / 1000} s:\n${output.slice(-20).join('\n')}`);
}

/**
 * SIGTERM to `target`, then waits for the spawned child to exit and every process of its tree to
 * be gone. Returns how long that took and which processes had to be killed.
 */
async function stopTree(child: ChildProcess, target: ProcessInfo | undefined, tree: ProcessInfo[]): Promise<{ stopMs: number; leftovers: string[] }> {
  const started = performance.now();
  const exited = child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // `npm exec` answers SIGTERM by ending its `sh -c` wrapper, which does not pass the signal on and
  // leaves Kluis running; so the signal goes to the process that runs start-local itself.
  try {
    process.kill(target?.pid ?? child.pid!, 'SIGTERM');
  } catch {
    // already gone; the checks below still look for the rest of the tree
  }
  const timedOut = await Promise.race([exited.then(() => false), sleep(STOP_TIMEOUT_MS).then(() => true)]);
  const deadline = performance.now() + 30_000;
  while (tree.some(isAlive) && performance.now() < deadline) await sleep(100);
  const stopMs = performance.now() - started;
  const leftovers = tree.filter(isAlive);
  for (const p of leftovers) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // gone meanwhile
    }
  }
  return { stopMs, leftovers: [...(timedOut ? [`pid ${child.pid} did not exit within ${STOP_TIMEOUT_MS / 1000} s`] : []), ...leftovers.map((p) => `${p.name} (pid ${p.pid}) was still running and was killed`)] };
}

/** A readable name for a process of the `npm start` tree (the kernel's names are mostly "node"). */
function roleOf(p: ProcessInfo, kluis: ProcessInfo, playground: ProcessInfo | undefined): string {
  if (p.pid === kluis.pid) return 'kluis';
  if (p.pid === playground?.pid || p.commandLine.includes('agentsplayground')) return 'playground';
  if (p.name.startsWith('npm')) return 'npm';
  if (/[/\\]tsx(\s|$)/.test(p.commandLine)) return 'tsx';
  return p.name;
}

interface KluisRun {
  readyMs: number;
  stopMs: number;
  kluisRss: number;
  playgroundRss?: number;
  mariadbRss?: number;
  treeRss: number;
  treeNames: string;
  leftovers: string[];
}

async function runKluis(dataDir: string, idleMs: number, log: (line: string) => void, label: string): Promise<KluisRun> {
  const port = await freePort();
  const playgroundPort = await freePort();
  const env = cleanEnvironment({ PORT: String(port), PLAYGROUND_PORT: String(playgroundPort), DATA_DIR: dataDir });
  const started = await startAndWait('npx', ['tsx', 'scripts/start-local.ts'], env, `http://127.0.0.1:${port}/readyz`);
  log(`  ${label}: /readyz 200 after ${started.readyMs.toFixed(0)} ms`);
  let tree: ProcessInfo[] = [];
  let kluis: ProcessInfo | undefined;
  try {
    await sleep(idleMs);
    // The playground starts after Kluis is ready; give it a little longer if it is still loading.
    const playgroundDeadline = performance.now() + 15_000;
    let playground: ProcessInfo | undefined;
    for (;;) {
      tree = processTree(started.child.pid!);
      playground = portOwner(playgroundPort, tree);
      if (playground || performance.now() > playgroundDeadline) break;
      await sleep(250);
    }
    const server = portOwner(port, tree);
    if (!server) throw new Error(`No process of the started tree listens on port ${port}`);
    kluis = server;
    playground ??= tree.find((p) => p.commandLine.includes('agentsplayground'));
    const mariadb = tree.find((p) => p.name === 'mariadbd');
    const run = {
      readyMs: started.readyMs,
      kluisRss: server.rssMb,
      playgroundRss: playground?.rssMb,
      mariadbRss: mariadb?.rssMb,
      treeRss: tree.reduce((sum, p) => sum + p.rssMb, 0),
      treeNames: tree.map((p) => `${roleOf(p, server, playground)} ${p.rssMb.toFixed(0)}`).join(', '),
    };
    log(`  ${label}: idle RSS Kluis ${run.kluisRss.toFixed(1)} MB (pid ${server.pid}), playground ${run.playgroundRss?.toFixed(1) ?? 'n/a'} MB, mariadbd ${run.mariadbRss?.toFixed(1) ?? 'n/a'} MB; tree ${run.treeNames}`);
    const stopped = await stopTree(started.child, kluis, tree);
    log(`  ${label}: stopped in ${stopped.stopMs.toFixed(0)} ms${stopped.leftovers.length ? `; ${stopped.leftovers.join('; ')}` : ', nothing left running'}`);
    return { ...run, ...stopped };
  } catch (error) {
    if (tree.length === 0) tree = processTree(started.child.pid!);
    await stopTree(started.child, kluis ?? portOwner(port, tree), tree);
    throw error;
  }
}

async function runBare(command: string, args: string[], idleMs: number): Promise<{ readyMs: number; rssMb: number; stopMs: number; leftovers: string[] }> {
  const port = await freePort();
  const started = await startAndWait(command, args, cleanEnvironment({ PORT: String(port) }), `http://127.0.0.1:${port}/`);
  await sleep(idleMs);
  const tree = processTree(started.child.pid!);
  const server = portOwner(port, tree);
  const stopped = await stopTree(started.child, server, tree);
  if (!server) throw new Error(`No process of the started tree listens on port ${port}`);
  return { readyMs: started.readyMs, rssMb: server.rssMb, ...stopped };
}

const median = (values: number[]) => summarize(values).p50;

/** Runs `times` starts one after another (never overlapping, so they do not compete). */
async function repeat<T>(times: number, run: (last: boolean, i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < times; i++) out.push(await run(i === times - 1, i));
  return out;
}

export async function runColdStart(context: BenchContext): Promise<BenchResult> {
  const idleMs = context.quick ? 2_000 : 5_000;
  const log = context.log;
  const notes: string[] = [];
  if (fs.existsSync(path.join(REPO_ROOT, '.env'))) notes.push('coldStart: a .env file in the repository root was read by `npm start` and may change what is measured.');

  // Single starts of a small process swing by hundreds of ms with the page cache and whatever ran
  // just before (the retrieval benchmark leaves gigabytes to write back), so the short starts are
  // repeated and their median taken; only the last of each idles long enough for its RSS to count.
  const bareRuns = await repeat(context.quick ? 3 : 5, (last) => runBare(process.execPath, ['-e', BARE_SERVER], last ? idleMs : 0));
  const bare = { readyMs: median(bareRuns.map((r) => r.readyMs)), rssMb: bareRuns[bareRuns.length - 1]!.rssMb, stopMs: bareRuns[bareRuns.length - 1]!.stopMs };
  log(`  bare node server: first 200 after ${bareRuns.map((r) => r.readyMs.toFixed(0)).join(', ')} ms (median ${bare.readyMs.toFixed(0)}), idle RSS ${bare.rssMb.toFixed(1)} MB`);
  const tsxRuns = await repeat(context.quick ? 1 : 3, (last) => runBare('npx', ['tsx', '-e', BARE_SERVER], last ? idleMs : 0));
  const bareTsx = { readyMs: median(tsxRuns.map((r) => r.readyMs)), rssMb: tsxRuns[tsxRuns.length - 1]!.rssMb };
  log(`  bare server via npx tsx: first 200 after ${tsxRuns.map((r) => r.readyMs.toFixed(0)).join(', ')} ms (median ${bareTsx.readyMs.toFixed(0)}), idle RSS ${bareTsx.rssMb.toFixed(1)} MB`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-bench-start-'));
  // mariadbd runs as the mysql user when we are root, and must be able to enter the folder.
  fs.chmodSync(dataDir, 0o755);
  try {
    // Only the first start on a DATA_DIR is fresh, so that one cannot be repeated.
    const fresh = await runKluis(dataDir, idleMs, log, 'fresh start');
    const warmRuns = await repeat(context.quick ? 1 : 3, (_last, i) => runKluis(dataDir, idleMs, log, `warm start ${i + 1}`));
    const warm = {
      readyMs: median(warmRuns.map((r) => r.readyMs)),
      stopMs: median(warmRuns.map((r) => r.stopMs)),
      kluisRss: median(warmRuns.map((r) => r.kluisRss)),
      playgroundRss: warmRuns.every((r) => r.playgroundRss !== undefined) ? median(warmRuns.map((r) => r.playgroundRss!)) : undefined,
      mariadbRss: warmRuns.every((r) => r.mariadbRss !== undefined) ? median(warmRuns.map((r) => r.mariadbRss!)) : undefined,
      treeRss: median(warmRuns.map((r) => r.treeRss)),
      treeNames: warmRuns[0]!.treeNames,
    };
    for (const leftover of [...bareRuns, ...tsxRuns, fresh, ...warmRuns].flatMap((r) => r.leftovers)) notes.push(`coldStart: ${leftover}`);
    notes.push(
      `coldStart: medians of ${bareRuns.length} bare node starts, ${tsxRuns.length} npx tsx starts and ${warmRuns.length} warm Kluis starts (one fresh start); idle ${idleMs / 1000} s before reading VmRSS; SIGTERM to exit of the whole tree took ${fresh.stopMs.toFixed(0)} ms (fresh) and ${warm.stopMs.toFixed(0)} ms (warm median), bare node ${bare.stopMs.toFixed(0)} ms; tree RSS adds up every process below npx (npm, sh, tsx, Kluis, tsx's esbuild service while it runs, mariadbd, the playground; shared pages counted once per process). First warm tree (MB): ${warm.treeNames}.`,
    );
    const vsBare = (value: number): Figure['baseline'] => ({ label: 'bare node http server', value });
    // Start times compare with the bare server's median start, memory with its idle RSS.
    const figures: Figure[] = [
      { benchmark: 'coldStart', metric: 'fresh start: spawn to /readyz 200', value: fresh.readyMs, unit: 'ms', baseline: vsBare(bare.readyMs), note: 'new DATA_DIR' },
      { benchmark: 'coldStart', metric: 'warm start: spawn to /readyz 200 (median)', value: warm.readyMs, unit: 'ms', baseline: vsBare(bare.readyMs), note: 'same DATA_DIR' },
      { benchmark: 'coldStart', metric: 'bare server via npx tsx: spawn to 200 (median)', value: bareTsx.readyMs, unit: 'ms', baseline: vsBare(bare.readyMs), note: 'launcher share' },
      { benchmark: 'coldStart', metric: 'Kluis process RSS, idle (fresh start)', value: fresh.kluisRss, unit: 'MB', baseline: vsBare(bare.rssMb) },
      { benchmark: 'coldStart', metric: 'Kluis process RSS, idle (warm start, median)', value: warm.kluisRss, unit: 'MB', baseline: vsBare(bare.rssMb) },
    ];
    if (warm.playgroundRss !== undefined) figures.push({ benchmark: 'coldStart', metric: 'Agents Playground process RSS, idle', value: warm.playgroundRss, unit: 'MB', baseline: vsBare(bare.rssMb) });
    else notes.push('coldStart: the Agents Playground process was not found, so its memory is not reported.');
    if (warm.mariadbRss !== undefined) figures.push({ benchmark: 'coldStart', metric: 'private mariadbd RSS, idle', value: warm.mariadbRss, unit: 'MB' });
    figures.push({ benchmark: 'coldStart', metric: '`npm start` process tree RSS, idle', value: warm.treeRss, unit: 'MB', baseline: vsBare(bare.rssMb), note: 'sum over processes' });
    return { figures, notes };
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
