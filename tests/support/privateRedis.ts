/**
 * A private Redis server for one test run (or one benchmark): its own loopback port, nothing kept
 * on disk, stopped at the end. Never the machine's shared Redis, so two runs never see each
 * other's keys. Needs the `redis-server` binary (Debian package redis-server; .ci/run installs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import { freePort } from '../../bench/processes';

export interface PrivateRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

const BINARIES = ['/usr/bin/redis-server', '/usr/local/bin/redis-server'];

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
}

export async function startPrivateRedis(options: { port?: number } = {}): Promise<PrivateRedis> {
  const binary = BINARIES.find((b) => fs.existsSync(b));
  if (!binary) throw new Error('redis-server is not installed (Debian: apt-get install redis-server); .ci/run installs it');
  const port = options.port ?? (await freePort());
  const child: ChildProcess = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning', '--dir', '/tmp'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await ping(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`private redis-server did not start on port ${port}: ${stderr.trim() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
