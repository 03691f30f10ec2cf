/**
 * What the benchmarks ask and index: real questions about the demo documents, and synthetic
 * passages made from those documents' own sentences. Synthesising from the demo texts (rather than
 * random words) keeps BM25's term statistics realistic: the same policy vocabulary in English and
 * Dutch, the same mix of common and rare words, passages of the same length as real chunks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { chunkSections } from '../api/knowledge/chunk';
import { extractDocument, isSupportedFile } from '../api/knowledge/extract';
import { detectLanguage } from '../api/knowledge/language';
import type { ChunkRecord } from '../api/knowledge/ports';
import { shuffled } from './stats';

export const REPO_ROOT = path.resolve(__dirname, '..');
export const DEMO_KNOWLEDGE_DIR = path.join(REPO_ROOT, 'demo', 'knowledge');

/** Questions a user would ask about the demo documents; every one has an answer in them. */
export const QUESTIONS: readonly string[] = [
  'What is the maximum hotel rate per night in London on a business trip?',
  'Hoeveel bedraagt de thuiswerkvergoeding per maand?',
  'What phone number do I call to report a security incident?',
  'Hoeveel wettelijke vakantiedagen krijgt een voltijdse medewerker?',
  'Who approves business trips outside Europe?',
  'Hoeveel ADV-dagen heb ik per jaar?',
  'Who is the Data Protection Officer and how do I contact them?',
  'Hoeveel bedraagt de kilometervergoeding met de eigen wagen?',
  'How many working days before departure must I send a request to the Travel Desk?',
  'Wie heeft recht op een bedrijfswagen?',
  'Where may I store site photos in which people are recognisable?',
  'Vanaf welk bedrag heb ik vooraf toestemming nodig voor een uitgave?',
];

interface SeedChunk {
  title: string;
  sourceRef: string;
  heading?: string;
  sentences: string[];
}

export interface SeedDocument {
  title: string;
  sourceRef: string;
  chunks: SeedChunk[];
}

/** The demo documents, extracted and chunked exactly as the indexer does it. */
export async function loadDemoDocuments(dir = DEMO_KNOWLEDGE_DIR): Promise<SeedDocument[]> {
  const documents: SeedDocument[] = [];
  for (const name of fs.readdirSync(dir).filter(isSupportedFile).sort()) {
    const extracted = await extractDocument(name, fs.readFileSync(path.join(dir, name)));
    const chunks = chunkSections(extracted.sections).map((c) => ({
      title: extracted.title,
      sourceRef: name,
      heading: c.heading,
      sentences: c.text.split(/(?<=[.!?;:])\s+|\n+/).map((s) => s.trim()).filter(Boolean),
    }));
    if (chunks.length) documents.push({ title: extracted.title, sourceRef: name, chunks });
  }
  if (documents.length === 0) throw new Error(`No demo documents found in ${dir}`);
  return documents;
}

// Variants get a different title so the title column (which is searched too) is not a constant.
const VARIANT_LABELS = ['Gent', 'Antwerpen', 'Finance', 'HR', 'Projects', 'Fleet', 'Archive 2019', 'Draft 2026', 'Site office', 'Legal', 'Sales', 'IT'];

/** A number with the same count of digits, so formats such as "EUR 185" or "09 265 40 55" survive. */
function replaceNumbers(text: string, random: () => number): string {
  return text.replace(/\d+/g, (digits) => {
    let out = String(1 + Math.floor(random() * 9));
    for (let i = 1; i < digits.length; i++) out += Math.floor(random() * 10);
    return out;
  });
}

/**
 * `count` chunks of one synthetic document derived from `seed`: each chunk takes the sentences of
 * one real chunk in a new order, borrows one or two sentences from another chunk of the same
 * document, and gets fresh numbers.
 */
export function synthesiseDocument(seed: SeedDocument, documentId: string, variant: number, count: number, random: () => number): ChunkRecord[] {
  const title = `${seed.title} (${VARIANT_LABELS[variant % VARIANT_LABELS.length]} ${variant})`;
  const out: ChunkRecord[] = [];
  for (let ordinal = 0; ordinal < count; ordinal++) {
    const base = seed.chunks[Math.floor(random() * seed.chunks.length)]!;
    const donor = seed.chunks[Math.floor(random() * seed.chunks.length)]!;
    const borrowed = shuffled(donor.sentences, random).slice(0, 1 + Math.floor(random() * 2));
    const sentences = shuffled([...base.sentences, ...borrowed], random);
    const text = replaceNumbers(sentences.join(' '), random);
    out.push({
      id: `${documentId}:${ordinal}`,
      documentId,
      ordinal,
      title,
      sourceRef: `bench/${variant}/${seed.sourceRef}`,
      heading: base.heading,
      text,
      language: detectLanguage(text),
    });
  }
  return out;
}
