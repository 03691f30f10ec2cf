/**
 * Linux process helpers for the start-up benchmark, read straight from /proc: which processes a
 * spawned command grew into, which of them serves a given TCP port, and how much memory each holds.
 * `npx tsx` puts three processes (npm, sh, the tsx launcher) between us and the node process that
 * actually runs Kluis, so the child's own pid says nothing about Kluis itself.
 */
import fs from 'node:fs';
import net from 'node:net';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  /** The kernel's short name, e.g. "node" or "mariadbd". */
  name: string;
  commandLine: string;
  /** Resident set size in MB (VmRSS), 0 for a process that has no memory map any more. */
  rssMb: number;
  /** Start time in clock ticks since boot; with the pid it identifies the process. */
  startTicks: string;
}

function readProcess(pid: number): ProcessInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The name in parentheses may itself contain spaces or parentheses.
    const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const rssKb = Number(/^VmRSS:\s+(\d+)\s+kB/m.exec(status)?.[1] ?? 0);
    const commandLine = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    return { pid, ppid: Number(rest[1]), name, commandLine, rssMb: rssKb / 1024, startTicks: rest[19] ?? '' };
  } catch {
    return undefined;
  }
}

function allProcesses(): ProcessInfo[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .map((entry) => readProcess(Number(entry)))
    .filter((p): p is ProcessInfo => p !== undefined);
}

/** The process and everything below it, parents before children. */
export function processTree(rootPid: number): ProcessInfo[] {
  const processes = allProcesses();
  const root = processes.find((p) => p.pid === rootPid);
  if (!root) return [];
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...processes.filter((p) => p.ppid === out[i]!.pid));
  return out;
}

/** The socket inode listening on a TCP port, from /proc/net/tcp and tcp6 (state 0A = LISTEN). */
function listeningInode(port: number): string | undefined {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text = '';
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length > 9 && fields[1]!.endsWith(`:${hexPort}`) && fields[3] === '0A') return fields[9];
    }
  }
  return undefined;
}

/** Which of `candidates` holds the socket listening on `port`. */
export function portOwner(port: number, candidates: ProcessInfo[]): ProcessInfo | undefined {
  const inode = listeningInode(port);
  if (!inode) return undefined;
  const wanted = `socket:[${inode}]`;
  return candidates.find((p) => {
    try {
      return fs.readdirSync(`/proc/${p.pid}/fd`).some((fd) => {
        try {
          return fs.readlinkSync(`/proc/${p.pid}/fd/${fd}`) === wanted;
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

/** Still the same live process (not a zombie, not a new process that reused the pid). */
export function isAlive(p: ProcessInfo): boolean {
  const now = readProcess(p.pid);
  if (!now || now.startTicks !== p.startTicks) return false;
  try {
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${p.pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
