/**
 * The system prompt is never shown to users. Framing retrieved text as data and telling the model
 * not to reveal its rules lowers the odds; this guard makes it a property: an answer that repeats a
 * run of `WINDOW_WORDS` consecutive words of the system prompt (Kluis's rules or the administrator's
 * instructions) is not delivered. Comparison ignores case, punctuation and spacing, so a lightly
 * reformatted copy is caught as well.
 */
export const WINDOW_WORDS = 8;

function words(text: string): string[] {
  return text
    .toLowerCase()
    .normalize('NFKC')
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

export function revealsSystemPrompt(answer: string, systemPrompt: string): boolean {
  const source = words(systemPrompt);
  if (source.length < WINDOW_WORDS) return false;
  const said = ` ${words(answer).join(' ')} `;
  for (let i = 0; i + WINDOW_WORDS <= source.length; i++) {
    if (said.includes(` ${source.slice(i, i + WINDOW_WORDS).join(' ')} `)) return true;
  }
  return false;
}
