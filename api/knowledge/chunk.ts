/**
 * Chunking: sections become passages of about `targetChars`, split on paragraph boundaries first,
 * then sentences, then words, with `overlapChars` of the previous passage carried over so an
 * answer that straddles a boundary is still found whole in one chunk. A chunk never crosses a
 * heading: the heading travels with every chunk of its section.
 */
import type { Section } from './extract';

export interface Chunk {
  ordinal: number;
  heading?: string;
  text: string;
}

export interface ChunkOptions {
  targetChars: number;
  overlapChars: number;
}

export const DEFAULT_CHUNKING: ChunkOptions = { targetChars: 1200, overlapChars: 200 };

export function chunkSections(sections: Section[], options: ChunkOptions = DEFAULT_CHUNKING): Chunk[] {
  if (options.overlapChars >= options.targetChars) throw new RangeError('overlapChars must be smaller than targetChars');
  const chunks: Chunk[] = [];
  for (const section of sections) {
    for (const text of chunkText(section.text, options)) chunks.push({ ordinal: chunks.length, heading: section.heading, text });
  }
  return chunks;
}

function chunkText(text: string, { targetChars, overlapChars }: ChunkOptions): string[] {
  const units = splitIntoUnits(text, targetChars);
  const out: string[] = [];
  let current = '';
  for (const unit of units) {
    if (current && current.length + unit.length + 1 > targetChars) {
      out.push(current.trim());
      const carried = tail(current, overlapChars);
      current = carried ? `${carried} ${unit}` : unit;
    } else {
      current = current ? `${current}${unit.startsWith('\n') ? '' : '\n'}${unit}` : unit;
    }
  }
  if (current.trim()) out.push(current.trim());
  return out;
}

/** Paragraphs, or sentences/words of paragraphs too long to fit one chunk. */
function splitIntoUnits(text: string, max: number): string[] {
  const units: string[] = [];
  for (const paragraph of text.split(/\n{2,}/)) {
    const p = paragraph.trim();
    if (!p) continue;
    if (p.length <= max) {
      units.push(p);
      continue;
    }
    for (const sentence of p.split(/(?<=[.!?])\s+/)) {
      if (sentence.length <= max) {
        units.push(sentence);
        continue;
      }
      // A sentence longer than a chunk (tables, lists without punctuation): cut on word boundaries.
      let rest = sentence;
      while (rest.length > max) {
        let cut = rest.lastIndexOf(' ', max);
        if (cut < max / 2) cut = max;
        units.push(rest.slice(0, cut));
        rest = rest.slice(cut).trimStart();
      }
      if (rest) units.push(rest);
    }
  }
  return units;
}

/**
 * The overlap carried into the next chunk: the last `chars` characters of `text`, starting at a
 * sentence or line start when there is one in that window (a passage that starts mid-sentence
 * loses the subject of what follows), else at a word boundary.
 */
function tail(text: string, chars: number): string {
  if (chars <= 0) return '';
  if (text.length <= chars) return text.trim();
  const slice = text.slice(-chars);
  const sentence = /(?:[.!?:]\s+|\n)(?=\S)/.exec(slice);
  if (sentence) return slice.slice(sentence.index + sentence[0].length).trim();
  const space = slice.indexOf(' ');
  return (space >= 0 ? slice.slice(space + 1) : slice).trim();
}
