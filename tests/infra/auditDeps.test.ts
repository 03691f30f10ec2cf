/** scripts/audit-deps.ts: npm audit answers (recorded shapes) judged against an allow list. */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decideAudit, describeDecision, parseAllowList, type AllowEntry } from '../../scripts/audit-deps';

const ROOT = path.resolve(__dirname, '..', '..');
const FIXTURES = path.join(__dirname, 'fixtures');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');
const TODAY = new Date('2026-12-07T00:00:00Z');

const highEntry: AllowEntry = { id: 'GHSA-2w8x-224x-785m', package: 'express-fake-parser', reason: 'Only reachable through the admin import, which is off in every deployment.', expires: '2027-01-31' };
const criticalEntry: AllowEntry = { id: 'GHSA-9c47-m6qq-7p4h', package: 'tiny-regex', reason: 'Patched copy vendored; upstream release pending.', expires: '2026-12-07' };

describe('decideAudit', () => {
  it('passes a clean report', () => {
    const d = decideAudit(fixture('npm-audit-clean.json'), [], TODAY);
    expect(d).toMatchObject({ outcome: 'pass', blocking: [], problems: [] });
  });

  it('fails on high and critical advisories outside the allow list, ignores moderate ones and the packages that only carry them', () => {
    const d = decideAudit(fixture('npm-audit-findings.json'), [], TODAY);
    if (d.outcome === 'unavailable') throw new Error('expected a judged report');
    expect(d.outcome).toBe('fail');
    expect(d.blocking.map((f) => [f.id, f.package, f.severity]).sort()).toEqual([
      ['GHSA-2w8x-224x-785m', 'express-fake-parser', 'high'],
      ['GHSA-9c47-m6qq-7p4h', 'tiny-regex', 'critical'],
    ]);
    expect(d.problems.join('\n')).toContain('https://github.com/advisories/GHSA-9c47-m6qq-7p4h');
  });

  it('passes when every high/critical advisory is allowed by a live entry (the expiry day itself still counts)', () => {
    const d = decideAudit(fixture('npm-audit-findings.json'), [highEntry, criticalEntry], TODAY);
    expect(d).toMatchObject({ outcome: 'pass', blocking: [], expired: [], unused: [] });
    if (d.outcome === 'unavailable') throw new Error('expected a judged report');
    expect(d.allowed).toHaveLength(2);
  });

  it('fails when an entry names the right advisory for another package', () => {
    const d = decideAudit(fixture('npm-audit-findings.json'), [{ ...highEntry, package: 'web-wrapper' }, criticalEntry], TODAY);
    expect(d.outcome).toBe('fail');
    if (d.outcome === 'unavailable') throw new Error('expected a judged report');
    expect(d.blocking.map((f) => f.package)).toEqual(['express-fake-parser']);
    expect(d.unused.map((e) => e.package)).toEqual(['web-wrapper']);
  });

  it('fails on an expired entry, even one whose advisory is gone', () => {
    const d = decideAudit(fixture('npm-audit-findings.json'), [highEntry, criticalEntry], new Date('2026-12-08T00:00:01Z'));
    expect(d.outcome).toBe('fail');
    if (d.outcome === 'unavailable') throw new Error('expected a judged report');
    expect(d.expired.map((e) => e.id)).toEqual(['GHSA-9c47-m6qq-7p4h']);
    expect(d.blocking.map((e) => e.id)).toEqual(['GHSA-9c47-m6qq-7p4h']);
    const clean = decideAudit(fixture('npm-audit-clean.json'), [criticalEntry], new Date('2026-12-08T00:00:01Z'));
    expect(clean).toMatchObject({ outcome: 'fail', problems: [expect.stringMatching(/expired on 2026-12-07/)] });
  });

  it('reports an unused live entry without failing', () => {
    const d = decideAudit(fixture('npm-audit-clean.json'), [highEntry], TODAY);
    expect(d).toMatchObject({ outcome: 'pass', unused: [highEntry] });
    expect(describeDecision(d).join('\n')).toMatch(/matches no current advisory/);
  });

  it('calls a refused (HTTP 405) or unreachable audit endpoint unavailable, with the reason, loudly', () => {
    const refused = decideAudit(fixture('npm-audit-405.json'), [], TODAY);
    expect(refused).toEqual({ outcome: 'unavailable', reason: expect.stringMatching(/HTTP 405.*advisories\/bulk/) });
    const lines = describeDecision(refused);
    expect(lines.join('\n')).toMatch(/DEPENDENCY AUDIT DID NOT RUN/);
    expect(lines.join('\n')).toMatch(/HTTP 405/);
    expect(decideAudit(fixture('npm-audit-offline.json'), [], TODAY)).toEqual({ outcome: 'unavailable', reason: expect.stringMatching(/ENOTFOUND/) });
  });

  it('fails on answers that are not an endpoint problem: no lockfile, no JSON, an empty answer', () => {
    expect(decideAudit(fixture('npm-audit-nolock.json'), [], TODAY).outcome).toBe('fail');
    expect(decideAudit('npm ERR! something else', [], TODAY).outcome).toBe('fail');
    expect(decideAudit('', [], TODAY).outcome).toBe('fail');
    expect(decideAudit('null', [], TODAY).outcome).toBe('fail');
    expect(decideAudit('{"vulnerabilities": {"x": {"name": "x"}}}', [], TODAY).outcome).toBe('fail');
  });
});

describe('parseAllowList', () => {
  it('reads the committed allow list', () => {
    expect(Array.isArray(parseAllowList(fs.readFileSync(path.join(ROOT, 'security', 'audit-allowlist.json'), 'utf8')))).toBe(true);
  });

  it.each([
    ['not JSON', '{advisories: []}', /not JSON/],
    ['a missing reason', JSON.stringify({ advisories: [{ id: 'GHSA-2w8x-224x-785m', package: 'p', expires: '2027-01-01' }] }), /advisories\.0\.reason/],
    ['a short reason', JSON.stringify({ advisories: [{ ...highEntry, reason: 'because' }] }), /at least 10/],
    ['no expiry', JSON.stringify({ advisories: [{ id: highEntry.id, package: 'p', reason: highEntry.reason }] }), /expires/],
    ['an impossible date', JSON.stringify({ advisories: [{ ...highEntry, expires: '2027-13-45' }] }), /impossible expiry/],
    ['a malformed id', JSON.stringify({ advisories: [{ ...highEntry, id: 'CVE-2024-1' }] }), /GHSA id/],
    ['an unknown field', JSON.stringify({ advisories: [{ ...highEntry, severity: 'high' }] }), /not valid/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseAllowList(text)).toThrow(message);
  });
});

describe('npx tsx scripts/audit-deps.ts --report', () => {
  const run = (report: string, allow: AllowEntry[]) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-audit-'));
    try {
      const allowFile = path.join(dir, 'allow.json');
      fs.writeFileSync(allowFile, JSON.stringify({ advisories: allow }));
      return spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), path.join(ROOT, 'scripts', 'audit-deps.ts'), '--allowlist', allowFile, '--report', path.join(FIXTURES, report)], { cwd: ROOT, encoding: 'utf8' });
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };

  it('exits 1 on blocking advisories, 0 when allowed, 0 with the notice when the endpoint refuses', () => {
    const failing = run('npm-audit-findings.json', []);
    expect(failing.status).toBe(1);
    expect(failing.stderr).toMatch(/FAIL critical advisory GHSA-9c47-m6qq-7p4h in tiny-regex/);
    const allowed = run('npm-audit-findings.json', [{ ...highEntry, expires: '2999-01-01' }, { ...criticalEntry, expires: '2999-01-01' }]);
    expect([allowed.status, allowed.stdout]).toEqual([0, expect.stringMatching(/audit: pass \(2 allowed/)]);
    const refused = run('npm-audit-405.json', []);
    expect(refused.status).toBe(0);
    expect(refused.stderr).toMatch(/DEPENDENCY AUDIT DID NOT RUN/);
  });
});
