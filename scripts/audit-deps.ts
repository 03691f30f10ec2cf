/**
 * Dependency audit for CI: `npm audit --omit=dev --audit-level=high --json`, judged against the
 * allow list in security/audit-allowlist.json.
 *
 *   pass         no high or critical advisory outside the allow list, no expired allow-list entry
 *   fail         a high/critical advisory nobody accepted, an expired entry, or an unreadable answer
 *   unavailable  the registry's audit endpoint could not be reached or refused the request (some
 *                registries and mirrors answer 405): a loud notice says the audit did not run and
 *                why, and the run goes on. This is a deliberate choice (README, "Dependency audit";
 *                SECURITY.md): a registry outage must not block every build, and the notice keeps
 *                the gap visible.
 *
 * Usage: npx tsx scripts/audit-deps.ts [--allowlist <file>] [--report <npm audit json file>]
 * (--report judges a saved answer instead of calling npm.)
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';

const ROOT = path.resolve(__dirname, '..');
export const DEFAULT_ALLOWLIST = path.join(ROOT, 'security', 'audit-allowlist.json');
const BLOCKING = new Set(['high', 'critical']);

const allowEntry = z
  .object({
    id: z.string().regex(/^(GHSA(-[23456789cfghjmpqrvwx]{4}){3}|\d{1,10})$/, 'expected a GHSA id (GHSA-xxxx-xxxx-xxxx) or the numeric npm advisory id'),
    package: z.string().min(1).max(214),
    reason: z.string().min(10, 'expected a reason of at least 10 characters'),
    expires: z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'expected a date YYYY-MM-DD'),
  })
  .strict();
const allowList = z.object({ advisories: z.array(allowEntry) }).strict();
export type AllowEntry = z.infer<typeof allowEntry>;

export interface Finding {
  /** GHSA id when the advisory has one, else npm's numeric source id. */
  id: string;
  package: string;
  severity: string;
  title: string;
  url?: string;
}

export type AuditDecision =
  | { outcome: 'pass' | 'fail'; blocking: Finding[]; allowed: Finding[]; expired: AllowEntry[]; unused: AllowEntry[]; problems: string[] }
  | { outcome: 'unavailable'; reason: string };

/** Parses and checks the allow list; throws with the first problem. */
export function parseAllowList(text: string): AllowEntry[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`the audit allow list is not JSON: ${(error as Error).message}`);
  }
  const parsed = allowList.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new Error(`the audit allow list is not valid at ${issue.path.join('.') || 'top level'}: ${issue.message}`);
  }
  for (const e of parsed.data.advisories) {
    if (Number.isNaN(Date.parse(`${e.expires}T00:00:00Z`))) throw new Error(`the audit allow list entry ${e.id} has an impossible expiry date ${e.expires}`);
  }
  return parsed.data.advisories;
}

const viaAdvisory = z.object({
  source: z.union([z.number(), z.string()]),
  name: z.string(),
  title: z.string().default(''),
  url: z.string().optional(),
  severity: z.string(),
});
const auditReport = z.object({
  vulnerabilities: z.record(z.object({ name: z.string(), via: z.array(z.union([z.string(), viaAdvisory.passthrough()])) }).passthrough()),
});

/** Error codes and statuses that mean "the endpoint could not answer", not "the project is broken". */
const UNREACHABLE_CODES = new Set(['ENOAUDIT', 'ENOTFOUND', 'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'EPROTO', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY']);

function unreachableReason(report: Record<string, unknown>): string | undefined {
  const error = (report.error ?? {}) as Record<string, unknown>;
  const status = typeof report.statusCode === 'number' ? report.statusCode : undefined;
  const code = typeof error.code === 'string' ? error.code : typeof report.code === 'string' ? report.code : undefined;
  const message = [report.message, error.summary, error.detail].filter((m) => typeof m === 'string' && m).join(' ');
  if (status !== undefined && (status >= 400 || status === 0)) return `the registry's audit endpoint answered HTTP ${status}${message ? `: ${message}` : ''}`;
  if (code && UNREACHABLE_CODES.has(code)) return `the registry's audit endpoint could not be reached (${code})${message ? `: ${message}` : ''}`;
  if (/audit endpoint returned an error|advisories\/bulk/i.test(message)) return `the registry's audit endpoint failed: ${message}`;
  return undefined;
}

function findingsOf(report: z.infer<typeof auditReport>): Finding[] {
  const seen = new Map<string, Finding>();
  for (const vuln of Object.values(report.vulnerabilities)) {
    for (const via of vuln.via) {
      if (typeof via === 'string') continue; // a dependency that carries another package's advisory
      if (!BLOCKING.has(via.severity)) continue;
      const ghsa = /GHSA(-[a-z0-9]{4}){3}/i.exec(via.url ?? '')?.[0];
      const id = ghsa ?? String(via.source);
      const key = `${id}|${via.name}`;
      if (!seen.has(key)) seen.set(key, { id, package: via.name, severity: via.severity, title: via.title, ...(via.url ? { url: via.url } : {}) });
    }
  }
  return [...seen.values()];
}

/** What npm's answer means for this run, given the allow list and today's date (UTC). */
export function decideAudit(stdout: string, entries: AllowEntry[], today: Date): AuditDecision {
  let json: unknown;
  try {
    json = JSON.parse(stdout);
  } catch {
    return { outcome: 'fail', blocking: [], allowed: [], expired: [], unused: [], problems: [`npm audit did not answer with JSON: ${stdout.slice(0, 200) || '(nothing)'}`] };
  }
  if (json === null || typeof json !== 'object') {
    return { outcome: 'fail', blocking: [], allowed: [], expired: [], unused: [], problems: ['npm audit answered with something other than a report'] };
  }
  const parsed = auditReport.safeParse(json);
  if (!parsed.success) {
    const reason = unreachableReason(json as Record<string, unknown>);
    if (reason) return { outcome: 'unavailable', reason };
    return { outcome: 'fail', blocking: [], allowed: [], expired: [], unused: [], problems: [`npm audit's answer is neither a report nor an endpoint error: ${JSON.stringify(json).slice(0, 300)}`] };
  }
  const day = today.toISOString().slice(0, 10);
  const expired = entries.filter((e) => e.expires < day);
  const live = entries.filter((e) => e.expires >= day);
  const findings = findingsOf(parsed.data);
  const matches = (f: Finding, e: AllowEntry) => e.id.toLowerCase() === f.id.toLowerCase() && e.package === f.package;
  const allowed = findings.filter((f) => live.some((e) => matches(f, e)));
  const blocking = findings.filter((f) => !live.some((e) => matches(f, e)));
  const unused = live.filter((e) => !findings.some((f) => matches(f, e)));
  const problems = [
    ...blocking.map((f) => `${f.severity} advisory ${f.id} in ${f.package}: ${f.title}${f.url ? ` (${f.url})` : ''}`),
    ...expired.map((e) => `allow-list entry ${e.id} (${e.package}) expired on ${e.expires}: fix the dependency or renew the entry with a new reason`),
  ];
  return { outcome: problems.length ? 'fail' : 'pass', blocking, allowed, expired, unused, problems };
}

/** The lines to print for a decision. */
export function describeDecision(decision: AuditDecision): string[] {
  if (decision.outcome === 'unavailable') {
    const bar = '!'.repeat(78);
    return [
      bar,
      '!! DEPENDENCY AUDIT DID NOT RUN',
      `!! Reason: ${decision.reason}.`,
      '!! No high or critical advisory was checked for this build. The run continues on purpose',
      '!! (SECURITY.md, "Dependency audit"); run `npx tsx scripts/audit-deps.ts` where the registry',
      '!! answers audit requests before releasing.',
      bar,
    ];
  }
  const lines = decision.problems.map((p) => `audit: FAIL ${p}`);
  for (const f of decision.allowed) lines.push(`audit: allowed ${f.severity} advisory ${f.id} in ${f.package} (security/audit-allowlist.json)`);
  for (const e of decision.unused) lines.push(`audit: note: allow-list entry ${e.id} (${e.package}) matches no current advisory; remove it`);
  lines.push(decision.outcome === 'pass' ? `audit: pass (${decision.allowed.length} allowed advisory(ies))` : `audit: ${decision.problems.length} problem(s)`);
  return lines;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

export function main(args: string[]): number {
  const entries = parseAllowList(fs.readFileSync(argValue(args, '--allowlist') ?? DEFAULT_ALLOWLIST, 'utf8'));
  const reportFile = argValue(args, '--report');
  let stdout: string;
  if (reportFile) stdout = fs.readFileSync(reportFile, 'utf8');
  else {
    const r = spawnSync('npm', ['audit', '--omit=dev', '--audit-level=high', '--json'], { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    if (r.error) throw new Error(`npm audit could not be started: ${r.error.message}`);
    stdout = r.stdout;
  }
  const decision = decideAudit(stdout, entries, new Date());
  for (const line of describeDecision(decision)) (decision.outcome === 'pass' ? console.log : console.error)(line);
  return decision.outcome === 'fail' ? 1 : 0;
}

if (require.main === module) {
  try {
    process.exit(main(process.argv.slice(2)));
  } catch (error) {
    console.error(`audit: ${(error as Error).message}`);
    process.exit(1);
  }
}
