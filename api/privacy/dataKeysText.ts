/**
 * A passage as the search indexes store it. With data keys, everything of it a reader is shown
 * (text, title, heading, url, sourceRef: a title or heading is often the passage's first line, a
 * file name or url can name a person) is sealed with the workspace's data key as one value in the
 * text field, `sealed:v1:<base64>`, the chunk id bound as context, so a passage copied onto another
 * chunk or workspace fails to open; the other fields are stored empty. Without data keys (an index
 * opened by a tool or a test) the passage is stored as it is. A passage stored before sealing was
 * switched on has no prefix and is read as it is, until its document is indexed again.
 */
import { fail } from '../errors';
import type { WorkspaceDataKeys } from './ports';

const PREFIX = 'sealed:v1:';

/** The shown fields of a chunk (api/knowledge/ports.ts ChunkRecord). */
export interface PassageFields {
  title: string;
  sourceRef: string;
  url?: string;
  heading?: string;
  text: string;
}

export interface PassageSealer {
  /** The passage as it is to be stored (its other properties kept). */
  seal<T extends PassageFields>(workspaceId: string, chunkId: string, passage: T): Promise<T>;
  /** The passage as it was before `seal`, from what was stored (its other properties kept). */
  open<T extends PassageFields>(workspaceId: string, chunkId: string, stored: T): Promise<T>;
}

export function passageSealer(keys: WorkspaceDataKeys | undefined): PassageSealer {
  const context = (chunkId: string) => `chunk:${chunkId}`;
  return {
    async seal(workspaceId, chunkId, p) {
      if (!keys) return p;
      const shown = JSON.stringify({ title: p.title, sourceRef: p.sourceRef, url: p.url, heading: p.heading, text: p.text });
      const sealed = await keys.seal(workspaceId, Buffer.from(shown, 'utf8'), context(chunkId));
      return { ...p, title: '', sourceRef: '', url: undefined, heading: undefined, text: PREFIX + sealed.toString('base64') };
    },
    async open(workspaceId, chunkId, stored) {
      if (!keys || !stored.text.startsWith(PREFIX)) return stored;
      const opened = await keys.open(workspaceId, Buffer.from(stored.text.slice(PREFIX.length), 'base64'), context(chunkId));
      const p = JSON.parse(opened.toString('utf8')) as Partial<PassageFields>;
      if (typeof p.text !== 'string' || typeof p.title !== 'string' || typeof p.sourceRef !== 'string') fail('ciphertext_invalid', 'A sealed passage does not hold its fields');
      return { ...stored, title: p.title, sourceRef: p.sourceRef, url: p.url ?? undefined, heading: p.heading ?? undefined, text: p.text };
    },
  };
}
