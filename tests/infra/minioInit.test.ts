/**
 * infra/compose/minio/minio-init.sh, run by sh with a recording `mc` first on PATH (no MinIO server
 * can run here): Kluis's user and its bucket-limited policy, and no anonymous access plus default
 * encryption on exactly the Kluis buckets.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const SCRIPT = path.resolve(__dirname, '..', '..', 'infra', 'compose', 'minio', 'minio-init.sh');

function runInit(env: Record<string, string>, buckets: string[]) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-minio-init-'));
  try {
    const log = path.join(dir, 'calls.log');
    const listing = buckets.map((b) => `[2026-12-01 10:00:00 UTC]     0B ${b}/`).join('\n');
    fs.writeFileSync(path.join(dir, 'listing'), listing ? `${listing}\n` : '');
    fs.writeFileSync(
      path.join(dir, 'mc'),
      `#!/bin/sh\necho "$*" >> "${log}"\nif [ "$1" = "admin" ] && [ "$2" = "policy" ] && [ "$3" = "create" ]; then cp "$6" "${dir}/policy.json"; fi\nif [ "$1" = "ls" ]; then cat "${dir}/listing"; fi\nexit 0\n`,
      { mode: 0o755 },
    );
    const r = spawnSync('sh', [SCRIPT], { encoding: 'utf8', env: { PATH: `${dir}:/usr/bin:/bin`, TMPDIR: dir, ...env } });
    const calls = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n') : [];
    const policy = fs.existsSync(path.join(dir, 'policy.json')) ? (JSON.parse(fs.readFileSync(path.join(dir, 'policy.json'), 'utf8')) as { Statement: Array<{ Resource: string[] }> }) : undefined;
    return { status: r.status, stderr: r.stderr, calls, policy };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

const ENV = { MINIO_BUCKET_PREFIX: 'kluis-', MINIO_KLUIS_ACCESS_KEY: 'kluis-app-user', MINIO_KLUIS_SECRET_KEY: 'not-a-real-secret-value' };

describe('minio-init.sh', () => {
  it("creates Kluis's user with a policy limited to its buckets, and locks down exactly the Kluis buckets", () => {
    const r = runInit(ENV, ['kluis-0a1b2c', 'other-team', 'kluis-ffee00', 'backups']);
    expect(r.status).toBe(0);
    expect(r.calls).toContain('admin user add kluis kluis-app-user not-a-real-secret-value');
    expect(r.calls).toContain('admin policy attach kluis kluis-app --user kluis-app-user');
    expect(r.policy?.Statement.flatMap((s) => s.Resource)).toEqual(['arn:aws:s3:::kluis-*', 'arn:aws:s3:::kluis-*/*']);
    expect(r.calls.filter((c) => c.startsWith('anonymous '))).toEqual(['anonymous set none kluis/kluis-0a1b2c', 'anonymous set none kluis/kluis-ffee00']);
    expect(r.calls.filter((c) => c.startsWith('encrypt '))).toEqual(['encrypt set sse-s3 kluis/kluis-0a1b2c', 'encrypt set sse-s3 kluis/kluis-ffee00']);
  });

  it('works with no bucket yet', () => {
    const r = runInit(ENV, []);
    expect(r.status).toBe(0);
    expect(r.calls.some((c) => c.startsWith('anonymous '))).toBe(false);
  });

  it.each([
    ['a prefix with a wildcard', { ...ENV, MINIO_BUCKET_PREFIX: 'kluis-*' }],
    ['a prefix with a slash', { ...ENV, MINIO_BUCKET_PREFIX: 'a/b' }],
    ['no secret key', { MINIO_BUCKET_PREFIX: 'kluis-', MINIO_KLUIS_ACCESS_KEY: 'kluis-app-user' }],
  ])('refuses %s before touching MinIO', (_name, env) => {
    const r = runInit(env as Record<string, string>, ['kluis-0a1b2c']);
    expect(r.status).not.toBe(0);
    expect(r.calls).toEqual([]);
  });
});
