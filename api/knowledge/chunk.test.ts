import { chunkSections } from './chunk';

const paragraph = (n: number, words = 40) => Array.from({ length: words }, (_, i) => `w${n}x${i}`).join(' ') + '.';

describe('chunkSections', () => {
  it('keeps short sections whole and carries their heading', () => {
    const chunks = chunkSections([{ heading: 'Verlof', text: 'Twintig dagen.' }, { heading: 'Ziekte', text: 'Bel voor 9u30.' }]);
    expect(chunks).toEqual([
      { ordinal: 0, heading: 'Verlof', text: 'Twintig dagen.' },
      { ordinal: 1, heading: 'Ziekte', text: 'Bel voor 9u30.' },
    ]);
  });

  it('splits long text on paragraphs within the size, with overlap', () => {
    const text = Array.from({ length: 12 }, (_, i) => paragraph(i)).join('\n\n');
    const chunks = chunkSections([{ heading: 'H', text }], { targetChars: 800, overlapChars: 150 });
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.text.length).toBeLessThanOrEqual(800 + 150 + 1);
    for (let i = 1; i < chunks.length; i++) {
      const previousTail = chunks[i - 1]!.text.slice(-60).split(' ').slice(1).join(' ');
      expect(chunks[i]!.text).toContain(previousTail.slice(0, 30));
    }
    // Every word of the input is in some chunk.
    for (const word of text.split(/\s+/)) expect(chunks.some((c) => c.text.includes(word))).toBe(true);
  });

  it('cuts a paragraph without sentence ends on word boundaries', () => {
    const text = Array.from({ length: 800 }, (_, i) => `token${i}`).join(' ');
    const chunks = chunkSections([{ text }], { targetChars: 500, overlapChars: 50 });
    for (const c of chunks) {
      expect(c.text.length).toBeLessThanOrEqual(551);
      expect(c.text).toMatch(/^token\d+/);
      expect(c.text).toMatch(/token\d+$/);
    }
    expect(chunks.at(-1)!.text).toContain('token799');
  });

  it('rejects an overlap as large as the chunk', () => {
    expect(() => chunkSections([{ text: 'x' }], { targetChars: 100, overlapChars: 100 })).toThrow(RangeError);
  });
});
