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

/**
 * The same rule for a streamed answer: text is released to the user only once it can no longer
 * complete a copied run, by holding back the last WINDOW_WORDS - 1 words (and an unfinished word).
 * After a leak is seen, nothing more is released; the caller replaces the message.
 */
export interface StreamGuard {
  /** Adds model text; returns the text that may be shown now ('' when none). */
  push(text: string): string;
  /** At the end: the rest, unless the whole answer revealed the system prompt. */
  finish(): string;
  readonly leaked: boolean;
}

export function createStreamGuard(systemPrompt: string): StreamGuard {
  let whole = '';
  let released = 0;
  let leaked = false;
  const releasable = (): number => {
    // Position after which WINDOW_WORDS - 1 complete words, plus any unfinished word, remain.
    const tail = /[\p{L}\p{N}]+[^\p{L}\p{N}]*$/u;
    let end = whole.length;
    const unfinished = /[\p{L}\p{N}]$/u.test(whole);
    for (let kept = 0; kept < WINDOW_WORDS - 1 + (unfinished ? 1 : 0) && end > 0; kept++) {
      const match = tail.exec(whole.slice(0, end));
      if (!match) break;
      end = match.index;
    }
    return Math.max(end, released);
  };
  return {
    get leaked() {
      return leaked;
    },
    push(text) {
      if (leaked) return '';
      whole += text;
      if (revealsSystemPrompt(whole, systemPrompt)) {
        leaked = true;
        return '';
      }
      const end = releasable();
      const out = whole.slice(released, end);
      released = end;
      return out;
    },
    finish() {
      if (leaked || revealsSystemPrompt(whole, systemPrompt)) {
        leaked = true;
        return '';
      }
      const out = whole.slice(released);
      released = whole.length;
      return out;
    },
  };
}
