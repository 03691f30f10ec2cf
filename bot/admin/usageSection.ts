/**
 * The admin panel's usage section: this month's language-model use per provider (calls, tokens,
 * estimated cost) and the budget, from the usage meter's monthly report (the figures behind
 * GET /api/usage). Admins only: the meter authorizes `usage.read` before it reads anything.
 */
import type { UsageReport } from '../../api/assistant/usage';

export const USAGE_SECTION = 'usage';

export interface ProviderUsage {
  provider: string;
  calls: number;
  failedCalls: number;
  refusedCalls: number;
  inputTokens: number;
  outputTokens: number;
  costCents: number;
  unpricedCalls: number;
}

/** The report's per-model rows summed per provider, the most expensive first. */
export function usageByProvider(report: UsageReport): ProviderUsage[] {
  const byProvider = new Map<string, ProviderUsage>();
  for (const row of report.byModel) {
    const sum = byProvider.get(row.provider) ?? { provider: row.provider, calls: 0, failedCalls: 0, refusedCalls: 0, inputTokens: 0, outputTokens: 0, costCents: 0, unpricedCalls: 0 };
    for (const key of ['calls', 'failedCalls', 'refusedCalls', 'inputTokens', 'outputTokens', 'costCents', 'unpricedCalls'] as const) sum[key] += row[key];
    byProvider.set(row.provider, sum);
  }
  return [...byProvider.values()].sort((a, b) => b.costCents - a.costCents || b.calls - a.calls || a.provider.localeCompare(b.provider));
}

const count = (n: number) => n.toLocaleString('en-US');
const money = (cents: number, currency: string) => `${(cents / 100).toFixed(2)} ${currency}`;

function callsLine(u: Pick<ProviderUsage, 'calls' | 'failedCalls' | 'refusedCalls'>): string {
  const extra = [u.failedCalls ? `${count(u.failedCalls)} failed` : '', u.refusedCalls ? `${count(u.refusedCalls)} refused` : ''].filter(Boolean).join(', ');
  return `${count(u.calls)} calls${extra ? ` (${extra})` : ''}`;
}

/** What the usage section's template binds to, as plain strings (see render.ts). */
export function usageSectionData(report: UsageReport | undefined) {
  if (!report) return { usage: { month: '', providers: [], total: '', budget: '', unpriced: '' } };
  const providers = usageByProvider(report);
  const unpriced = providers.reduce((n, p) => n + p.unpricedCalls, 0);
  const b = report.budget;
  return {
    usage: {
      month: `${report.month} (UTC)`,
      providers: providers.map((p) => ({
        provider: p.provider,
        calls: callsLine(p),
        tokens: `${count(p.inputTokens)} tokens in, ${count(p.outputTokens)} out`,
        cost: `${money(p.costCents, report.currency)}${p.unpricedCalls ? ` + ${count(p.unpricedCalls)} unpriced calls` : ''}`,
      })),
      total: `In all: ${callsLine(report.totals)}, ${money(report.totals.costCents, report.currency)} estimated.`,
      budget:
        b.monthlyLimitCents === null
          ? 'No monthly budget set.'
          : `Budget: ${money(b.spentCents, report.currency)} of ${money(b.monthlyLimitCents, report.currency)} spent${b.exhausted ? ': exhausted, paid providers are refused until next month.' : '.'}`,
      unpriced: unpriced ? `${count(unpriced)} call(s) used a model without a price; their cost is not included (set USAGE_PRICES).` : '',
    },
  };
}

const text = (value: string, extra: Record<string, unknown> = {}) => ({ type: 'TextRun', text: value, ...extra });
const run = (value: string, extra: Record<string, unknown> = {}) => ({ type: 'RichTextBlock', inlines: [text(value, extra)] });

/** The navigation button; shown to admins only (the same flag as the audit log). */
export function usageNavigation(openVerb: string) {
  return { type: 'Action.Execute', title: 'Usage', verb: openVerb, data: { section: USAGE_SECTION }, $when: '${canAudit}' };
}

export const USAGE_SECTION_TEMPLATE = {
  type: 'Container',
  $when: `\${section == '${USAGE_SECTION}'}`,
  items: [
    { type: 'TextBlock', text: 'Language-model usage this month', weight: 'Bolder', size: 'Medium', wrap: true },
    run('${usage.month}', { isSubtle: true, size: 'Small' }),
    { type: 'TextBlock', text: 'No language-model calls this month yet.', isSubtle: true, size: 'Small', wrap: true, $when: '${count(usage.providers) == 0}' },
    {
      type: 'Container',
      $data: '${usage.providers}',
      separator: true,
      spacing: 'Small',
      items: [
        run('${provider}', { weight: 'Bolder' }),
        { type: 'RichTextBlock', spacing: 'None', inlines: [text('${calls}'), text('  ·  ${tokens}', { isSubtle: true }), text('  ·  ${cost}')] },
      ],
    },
    { ...run('${usage.total}'), separator: true },
    run('${usage.budget}'),
    { ...run('${usage.unpriced}', { color: 'Attention', size: 'Small' }), $when: "${usage.unpriced != ''}" },
  ],
};
