import { buildChatRequest, buildPrompt } from '../prompt';
import type { Passage } from '../ports';
import { bestExcerpt, createExtractiveProvider, queryTerms } from './extractiveProvider';

const passage = (number: number, text: string): Passage => ({ number, documentId: `d${number}`, title: `Doc ${number}`, sourceRef: `doc${number}.md`, text, score: 1 });

describe('extractive provider', () => {
  it('quotes the sentence that answers, verbatim, and cites it', async () => {
    const p1 = passage(1, 'Het beleid geldt voor iedereen. Elke medewerker krijgt een thuiswerkvergoeding van 129,50 euro per maand. Dat bedrag is netto.');
    const p2 = passage(2, 'Thuiswerken kan twee dagen per week.');
    const result = await createExtractiveProvider().complete(buildChatRequest('Hoeveel bedraagt de thuiswerkvergoeding per maand?', [p1, p2], 'nl'));
    expect(result.text).toContain('Dit vond ik in jullie documenten (letterlijk geciteerd):');
    expect(result.text).toContain('"Elke medewerker krijgt een thuiswerkvergoeding van 129,50 euro per maand. Dat bedrag is netto." [1]');
    expect(result.usedPassages).toEqual([1, 2]);
    expect(result.provider).toBe('extractive');
  });

  it('never says anything that is not in a passage', async () => {
    const p = passage(1, 'Trains are mandatory for trips under five hours.');
    const result = await createExtractiveProvider().complete(buildChatRequest('Can I fly to Paris?', [p], 'en'));
    const quoted = [...result.text.matchAll(/"([^"]+)"/g)].map((m) => m[1]!);
    for (const q of quoted) expect(p.text).toContain(q);
  });

  it('shortens a very long passage at a word boundary', () => {
    const long = passage(1, `${'word '.repeat(300)}end`);
    const excerpt = bestExcerpt(long, queryTerms('word'));
    expect(excerpt.length).toBeLessThanOrEqual(450);
    expect(excerpt.endsWith('…')).toBe(true);
  });
});

describe('the extractive provider with an e-mail', () => {
  const body = 'Hi team. The Paris visit is confirmed for the 14th of March. We need a hotel near the office for three nights. Which hotel budget applies in Paris for this visit? Thanks, Jan.';

  it('summarises by quoting the e-mail\'s key sentences, in their order, inventing nothing', async () => {
    const result = await createExtractiveProvider().complete(buildPrompt({ question: 'Summarise this e-mail.', language: 'en', task: 'summarise', mail: { subject: 'Paris', body }, passages: [] }));
    const quotes = result.text.split('\n\n').slice(1);
    expect(quotes.length).toBeGreaterThan(0);
    for (const q of quotes) expect(body).toContain(q.replace(/^> "|"$/g, ''));
    expect(result.usedPassages).toEqual([]);
  });

  it('for a draft, says it cannot write one and quotes the passages that fit the e-mail', async () => {
    const p = { number: 1, documentId: 'd', title: 't', sourceRef: 's', text: 'Hotels in Paris are reimbursed up to EUR 160 per night.', score: 1 };
    const result = await createExtractiveProvider().complete(buildPrompt({ question: 'Draft a reply to this e-mail.', language: 'en', task: 'draft', mail: { subject: 'Paris hotel budget', body }, passages: [p] }));
    expect(result.text).toMatch(/^Without a language model Kluis cannot write a reply/);
    expect(result.text).toContain('EUR 160 per night');
  });
});
