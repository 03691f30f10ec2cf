/**
 * What an uploaded file is: decided by its extension AND its first bytes, which must agree.
 *
 * The extension alone is the uploader's claim; a renamed executable or a script dressed as a PDF
 * would otherwise be stored, listed and later downloaded by colleagues under a trusted name. The
 * content alone is not enough either: a ZIP is a docx, an xlsx or neither. So each accepted
 * extension names the signature its content must carry, and a file whose bytes say otherwise is
 * refused (`upload_type_mismatch`). Formats without a signature (text, Markdown, HTML) must at
 * least be text: no NUL bytes and no known binary signature.
 *
 * SVG is not accepted on purpose: it is a document that runs scripts when opened in a browser.
 */
import path from 'node:path';
import { fail } from '../errors';

/** indexed: text is extracted and searchable; stored: kept and listed only (images, video). */
export type UploadKind = 'document' | 'image' | 'video';

export interface FileType {
  extension: string;
  mimeType: string;
  kind: UploadKind;
}

type Check = (bytes: Buffer) => boolean;

const startsWith = (signature: number[] | string, at = 0): Check => {
  const expected = typeof signature === 'string' ? Buffer.from(signature, 'latin1') : Buffer.from(signature);
  return (bytes) => bytes.length >= at + expected.length && bytes.subarray(at, at + expected.length).equals(expected);
};

/**
 * An Office Open XML package: a ZIP (local file header first) whose entry names include the part
 * folder of its application. Entry names are stored uncompressed in the local and central headers.
 */
const officePackage = (partFolder: string): Check => {
  const zip = startsWith([0x50, 0x4b, 0x03, 0x04]);
  const folder = Buffer.from(partFolder, 'latin1');
  return (bytes) => zip(bytes) && bytes.includes(folder);
};

/** ISO base media (MP4, MOV): a box of type `ftyp` first, with one of the brands below. */
const isoMedia = (brands: string[]): Check => {
  const ftyp = startsWith('ftyp', 4);
  return (bytes) => ftyp(bytes) && brands.includes(bytes.subarray(8, 12).toString('latin1'));
};

const MP4_BRANDS = ['isom', 'iso2', 'iso4', 'iso5', 'iso6', 'mp41', 'mp42', 'avc1', 'M4V ', 'M4VH', 'M4VP', 'dash', 'MSNV', 'f4v ', 'mmp4'];
const MOV_BRANDS = ['qt  '];

/** Signatures of binary formats: a "text" file that starts with one of them is not text. */
const BINARY_SIGNATURES: Check[] = [
  startsWith('%PDF-'),
  startsWith([0x50, 0x4b, 0x03, 0x04]),
  startsWith([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1]), // OLE compound file (old Office, encrypted Office)
  startsWith('MZ'), // Windows executable
  startsWith([0x7f, 0x45, 0x4c, 0x46]), // ELF
  startsWith([0x89, 0x50, 0x4e, 0x47]),
  startsWith([0xff, 0xd8, 0xff]),
  startsWith('GIF8'),
  startsWith([0x1a, 0x45, 0xdf, 0xa3]),
];

/** Text: no NUL byte in the first 64 KiB and no binary signature. UTF-16 text is not accepted. */
const text: Check = (bytes) => !bytes.subarray(0, 65_536).includes(0) && !BINARY_SIGNATURES.some((isBinary) => isBinary(bytes));

const ACCEPTED: Record<string, { mimeType: string; kind: UploadKind; check: Check }> = {
  '.pdf': { mimeType: 'application/pdf', kind: 'document', check: startsWith('%PDF-') },
  '.docx': { mimeType: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document', kind: 'document', check: officePackage('word/') },
  '.pptx': { mimeType: 'application/vnd.openxmlformats-officedocument.presentationml.presentation', kind: 'document', check: officePackage('ppt/') },
  '.xlsx': { mimeType: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet', kind: 'document', check: officePackage('xl/') },
  '.txt': { mimeType: 'text/plain', kind: 'document', check: text },
  '.md': { mimeType: 'text/markdown', kind: 'document', check: text },
  '.markdown': { mimeType: 'text/markdown', kind: 'document', check: text },
  '.html': { mimeType: 'text/html', kind: 'document', check: text },
  '.htm': { mimeType: 'text/html', kind: 'document', check: text },
  '.png': { mimeType: 'image/png', kind: 'image', check: startsWith([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) },
  '.jpg': { mimeType: 'image/jpeg', kind: 'image', check: startsWith([0xff, 0xd8, 0xff]) },
  '.jpeg': { mimeType: 'image/jpeg', kind: 'image', check: startsWith([0xff, 0xd8, 0xff]) },
  '.gif': { mimeType: 'image/gif', kind: 'image', check: (b) => startsWith('GIF87a')(b) || startsWith('GIF89a')(b) },
  '.webp': { mimeType: 'image/webp', kind: 'image', check: (b) => startsWith('RIFF')(b) && startsWith('WEBP', 8)(b) },
  '.mp4': { mimeType: 'video/mp4', kind: 'video', check: isoMedia(MP4_BRANDS) },
  '.m4v': { mimeType: 'video/mp4', kind: 'video', check: isoMedia(MP4_BRANDS) },
  '.mov': { mimeType: 'video/quicktime', kind: 'video', check: isoMedia([...MOV_BRANDS, ...MP4_BRANDS]) },
  '.webm': { mimeType: 'video/webm', kind: 'video', check: startsWith([0x1a, 0x45, 0xdf, 0xa3]) },
};

export const UPLOAD_EXTENSIONS: readonly string[] = Object.keys(ACCEPTED);

/** The file's type when its extension is accepted and its content carries that format's signature. */
export function fileTypeOf(fileName: string, bytes: Buffer): FileType {
  const extension = path.extname(fileName).toLowerCase();
  const accepted = Object.hasOwn(ACCEPTED, extension) ? ACCEPTED[extension] : undefined;
  if (!accepted) fail('upload_type_unsupported', `Extension "${extension || 'none'}" is not accepted`);
  if (!accepted.check(bytes)) fail('upload_type_mismatch', `Content of a ${extension} file does not carry its signature`);
  return { extension, mimeType: accepted.mimeType, kind: accepted.kind };
}

/** Whether the name's extension is one that may be uploaded (checked before any byte is read). */
export function isAcceptedExtension(fileName: string): boolean {
  return Object.hasOwn(ACCEPTED, path.extname(fileName).toLowerCase());
}
