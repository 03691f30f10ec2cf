/**
 * The admin cards are valid Adaptive Cards 1.5 (parsed and validated by the `adaptivecards`
 * library, the renderer Teams' web client is built on) and bind data, never splice it: hostile
 * text in the data comes out literally, in elements that do not render markdown.
 */
// The UMD bundle: the package's main entry is ES modules, which Jest's CommonJS runtime cannot load.
import type * as AdaptiveCards from 'adaptivecards';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const AC = require('adaptivecards/dist/adaptivecards.js') as typeof AdaptiveCards;
import { adminCardGallery, HOSTILE, HOSTILE_TEXTS } from '../../tests/support/adminCardGallery';
import { AUDIT_AREAS } from '../../api/audit/auditTrail';
import { VERBS } from './templates';
import { myDataCardGallery } from '../../tests/support/myDataCardGallery';
import { MY_DATA_VERBS } from '../myDataTemplates';

const gallery = adminCardGallery();

function problems(json: object): string[] {
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(json, context);
  const out: string[] = [];
  for (let i = 0; i < context.eventCount; i++) out.push(`parse: ${context.getEventAt(i).message}`);
  for (const e of card.validateProperties().validationEvents) out.push(`validate: ${e.message}`);
  return out;
}

function walk(node: unknown, visit: (n: Record<string, unknown>, key?: string) => void, key?: string): void {
  if (Array.isArray(node)) return node.forEach((n) => walk(n, visit, key));
  if (!node || typeof node !== 'object') return;
  const o = node as Record<string, unknown>;
  visit(o, key);
  for (const [k, v] of Object.entries(o)) walk(v, visit, k);
}

function allStrings(node: unknown): string[] {
  const out: string[] = [];
  const collect = (n: unknown): void => {
    if (typeof n === 'string') out.push(n);
    else if (Array.isArray(n)) n.forEach(collect);
    else if (n && typeof n === 'object') Object.values(n).forEach(collect);
  };
  collect(node);
  return out;
}

/** The only link a card may hold: an export download through Kluis's own signed-link endpoint. */
const DOWNLOAD_LINK = /^https:\/\/[a-z0-9.-]+\/api\/export\/download\/[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;
const OWN_VERBS: string[] = [...Object.values(VERBS), ...Object.values(MY_DATA_VERBS)];

describe.each([...gallery, ...myDataCardGallery()])('the $name card', ({ card }) => {
  it('parses and validates as an Adaptive Card 1.5 without a single warning', () => {
    expect(card.version).toBe('1.5');
    expect(problems(card)).toEqual([]);
  });

  it('keeps every element through a parse and serialise round trip (no unknown element dropped)', () => {
    const parsed = new AC.AdaptiveCard();
    parsed.parse(card, new AC.SerializationContext());
    const count = (json: unknown) => {
      let n = 0;
      walk(json, (o) => void (typeof o.type === 'string' && n++));
      return n;
    };
    expect(count(parsed.toJSON())).toBe(count(card));
  });

  it('has no template syntax left and only the panel\'s own verbs', () => {
    walk(card, (o) => {
      expect(Object.keys(o).filter((k) => k.startsWith('$') && k !== '$schema')).toEqual([]);
      if (o.type === 'Action.Execute') expect(OWN_VERBS).toContain(o.verb);
      if (o.type === 'Action.OpenUrl') expect(String(o.url)).toMatch(DOWNLOAD_LINK);
      if (o.type === 'Action.Submit') throw new Error(`unexpected ${String(o.type)}`);
    });
    const leftovers = allStrings(card).filter((s) => /\$\{/.test(s) && !HOSTILE_TEXTS.some((h) => s.includes(h)));
    expect(leftovers).toEqual([]);
  });

  it('puts data only where markdown is not rendered', () => {
    walk(card, (o) => {
      if (o.type === 'TextBlock') for (const h of HOSTILE_TEXTS) expect(String(o.text)).not.toContain(h);
      if (o.type === 'FactSet') for (const h of HOSTILE_TEXTS) expect(JSON.stringify(o.facts)).not.toContain(h);
    });
  });
});

describe('binding hostile data', () => {
  const byName = Object.fromEntries(gallery.map((g) => [g.name, g.card]));
  const runs = (card: unknown) => {
    const out: string[] = [];
    walk(card, (o) => void (o.type === 'TextRun' && out.push(String(o.text))));
    return out;
  };

  it('shows a hostile source name literally in a TextRun, unexpanded', () => {
    expect(runs(byName.knowledge)).toContain(HOSTILE);
    expect(runs(byName['confirm-remove'])).toContain(HOSTILE);
    // `${$root.userId}` was not evaluated against the card data.
    expect(JSON.stringify(byName.knowledge)).not.toMatch(/"29:1a2b3c 29:1a2b3c/);
  });

  it('shows a hostile file name in a sync error and a hostile audit detail literally', () => {
    expect(runs(byName.knowledge).some((t) => t.includes(`Errors: ${HOSTILE}: The document could not be read.`))).toBe(true);
    expect(runs(byName.knowledge).some((t) => t.includes('Sync stopped: Microsoft 365 cannot be reached right now.'))).toBe(true);
    expect(runs(byName.audit).some((t) => t.includes(`note=${HOSTILE}`))).toBe(true);
  });

  it('keeps a {"$when": ...} text from hiding anything: every source is still listed', () => {
    const names = runs(byName.knowledge).filter((t) => t === HOSTILE || /^Source \d$/.test(t));
    expect(names).toEqual([HOSTILE, 'Source 2', 'Source 3', 'Source 4']);
  });

  it('returns what was typed in the form as input values, not as markup', () => {
    const values: Record<string, unknown> = {};
    walk(byName['knowledge-manager-empty'], (o) => void (typeof o.id === 'string' && (values[o.id] = o.value)));
    expect(values).toMatchObject({ displayName: HOSTILE, driveId: '../../x' });
    walk(byName['retention-invalid'], (o) => void (typeof o.id === 'string' && (values[o.id] = o.value)));
    // Not 2: the typed expression was not evaluated.
    expect(values.conversationDays).toBe('${1+1}');
  });

  it('caps a long source list and says so', () => {
    const card = byName['knowledge-many']!;
    const removeButtons: unknown[] = [];
    walk(card, (o) => void (o.verb === VERBS.askRemoveSource && removeButtons.push(o)));
    expect(removeButtons).toHaveLength(15);
    expect(JSON.stringify(card)).toContain('Showing 15 of 40 sources.');
  });

  it('refreshes only for the person the card is for', () => {
    expect(byName.opening!.refresh?.userIds).toEqual(['29:1a2b3c']);
    expect(byName['home-admin']!.refresh).toEqual({ action: { type: 'Action.Execute', title: 'Refresh', verb: VERBS.open, data: { section: 'home' } }, userIds: ['29:1a2b3c'] });
    expect(byName.refusal!.refresh).toBeUndefined();
  });

  it('shows a manager no retention, audit or usage controls', () => {
    const verbs: unknown[] = [];
    walk(byName['home-manager'], (o) => void (o.type === 'Action.Execute' && verbs.push(o.data && (o.data as { section?: string }).section)));
    expect(verbs).not.toContain('retention');
    expect(verbs).not.toContain('audit');
    expect(verbs).not.toContain('usage');
    const adminVerbs: unknown[] = [];
    walk(byName['home-admin'], (o) => void (o.type === 'Action.Execute' && adminVerbs.push(o.data && (o.data as { section?: string }).section)));
    expect(adminVerbs).toEqual(expect.arrayContaining(['audit', 'usage']));
  });

  it('offers every audit area the trail accepts as a kind to filter on, and nothing else', () => {
    const choices: string[] = [];
    walk(byName.audit, (o) => void (o.id === 'area' && choices.push(...(o.choices as Array<{ value: string }>).map((c) => c.value))));
    expect(choices).toEqual(['all', ...AUDIT_AREAS]);
  });

  it('sums the month\'s usage per provider, the most expensive first, with the budget and the unpriced calls', () => {
    const shown = runs(byName.usage);
    expect(shown.filter((t) => t === 'openai' || t === 'anthropic')).toEqual(['openai', 'anthropic']);
    expect(shown).toEqual(expect.arrayContaining([
      '1,700 calls (3 failed)', '  ·  2,040,000 tokens in, 510,000 out', '  ·  40.00 EUR',
      '30 calls (2 refused)', '  ·  10.12 EUR + 4 unpriced calls',
      'In all: 1,730 calls (3 failed, 2 refused), 50.12 EUR estimated.',
      'Budget: 50.12 EUR of 50.00 EUR spent: exhausted, paid providers are refused until next month.',
      '4 call(s) used a model without a price; their cost is not included (set USAGE_PRICES).',
    ]));
    // Model names are not shown: the section is per provider.
    expect(JSON.stringify(byName.usage)).not.toContain('gpt-4o-mini');
    expect(runs(byName['usage-empty'])).toEqual(expect.arrayContaining(['No monthly budget set.', 'In all: 0 calls, 0.00 EUR estimated.']));
    expect(JSON.stringify(byName['usage-empty'])).toContain('No language-model calls this month yet.');
  });
});
