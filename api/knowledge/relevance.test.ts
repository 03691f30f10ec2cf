import { contentTerms, coverage } from './relevance';

describe('relevance gate', () => {
  it('ignores stop words of both languages and compares on stems', () => {
    expect(contentTerms('Hoeveel vakantiedagen krijg ik per jaar?')).toEqual(['vakan', 'krijg', 'per', 'jaar']);
    expect(coverage('How many holidays do I get?', 'Every employee gets 20 holidays.')).toBe(1);
  });

  it('scores a passage that shares only a common word low', () => {
    const question = 'What is on the menu of the company canteen on Mars this Friday?';
    expect(coverage(question, 'The company pays travel costs on Friday.')).toBeLessThan(0.5);
  });

  it('gives zero for a question without content words', () => {
    expect(coverage('what is it?', 'anything')).toBe(0);
  });
});
