/**
 * The name an uploaded file is kept and shown under. The uploader chooses it, so it is hostile
 * until cleaned: it is reduced to its last path segment (a name never names a place), stripped of
 * control characters (header and log injection) and of bidirectional overrides and invisible
 * format characters (`invoice\u202Efdp.exe` showing as `invoiceexe.pdf`), trimmed of the dots and
 * spaces Windows drops, and capped in length with its extension kept. A name with nothing left
 * is refused. The name is only ever a label: blobs are stored under the upload's id.
 */
import path from 'node:path';
import { fail } from '../errors';

/** Characters, not bytes; fits the VARCHAR(255) column with room to spare. */
export const MAX_FILE_NAME_LENGTH = 200;

// Cc (C0, DEL, C1) and Cf (bidi embeddings, overrides and isolates, zero-width joiners, BOM, soft
// hyphen ...), plus the line and paragraph separators, and lone surrogates.
const UNSAFE = /[\p{Cc}\p{Cf}\u2028\u2029]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/gu;

export function sanitiseFileName(raw: string): string {
  const lastSegment = raw.split(/[/\\]/).pop() ?? '';
  let name = lastSegment.normalize('NFC').replace(UNSAFE, '').replace(/\s+/g, ' ');
  // Windows strips trailing dots and spaces; leading dots would hide the file on Unix.
  name = name.replace(/^[\s.]+/, '').replace(/[\s.]+$/, '');
  // Reserved on Windows, and meaningless in a Content-Disposition header.
  name = name.replace(/[<>:"|?*]/g, '_');
  if (!name) fail('upload_malformed', 'The file name is empty once cleaned');
  // Device names Windows will not save a file under, whatever the extension ("CON.txt").
  if (/^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i.test(name)) name = `_${name}`;
  const chars = [...name];
  if (chars.length > MAX_FILE_NAME_LENGTH) {
    const extension = path.extname(name);
    const keep = extension.length < 20 ? [...extension] : [];
    name = chars.slice(0, MAX_FILE_NAME_LENGTH - keep.length).join('').replace(/[\s.]+$/, '') + keep.join('');
  }
  return name;
}
