/**
 * Text extraction: turns a file's bytes into a title and sections (heading + text), keeping the
 * document's own structure so chunks can follow headings. Supported: .md .txt .html .docx .pdf,
 * and .pptx .xlsx (officeExtract.ts).
 * Anything unreadable raises `extraction_failed` with the reason; it never yields garbage text.
 */
import path from 'node:path';
import { Parser } from 'htmlparser2';
import mammoth from 'mammoth';
import { fail } from '../errors';
import { assertOfficeOpenXml, extractPptx, extractXlsx } from './officeExtract';

export interface Section {
  heading?: string;
  text: string;
}

export interface ExtractedDocument {
  title: string;
  mimeType: string;
  sections: Section[];
}

export const SUPPORTED_EXTENSIONS: Record<string, string> = {
  '.md': 'text/markdown',
  '.markdown': 'text/markdown',
  '.txt': 'text/plain',
  '.html': 'text/html',
  '.htm': 'text/html',
  '.docx': 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  '.pdf': 'application/pdf',
  '.pptx': 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  '.xlsx': 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
};

export function isSupportedFile(fileName: string): boolean {
  return Object.hasOwn(SUPPORTED_EXTENSIONS, path.extname(fileName).toLowerCase());
}

/** Extract title and sections from a file's bytes; the extension decides the format. */
export async function extractDocument(fileName: string, bytes: Buffer): Promise<ExtractedDocument> {
  const extension = path.extname(fileName).toLowerCase();
  const mimeType = SUPPORTED_EXTENSIONS[extension];
  if (!mimeType) fail('extraction_failed', `Unsupported file type "${extension || 'none'}" for ${fileName}`);
  const fallbackTitle = titleFromFileName(fileName);
  let extracted: { title?: string; sections: Section[] };
  switch (extension) {
    case '.md':
    case '.markdown':
      extracted = extractMarkdown(decodeText(bytes));
      break;
    case '.txt':
      extracted = extractPlainText(decodeText(bytes));
      break;
    case '.html':
    case '.htm':
      extracted = extractHtml(decodeText(bytes));
      break;
    case '.docx':
      extracted = await extractDocx(fileName, bytes);
      break;
    case '.pptx':
      extracted = await extractPptx(fileName, bytes);
      break;
    case '.xlsx':
      extracted = await extractXlsx(fileName, bytes);
      break;
    default:
      extracted = await extractPdf(fileName, bytes);
  }
  const sections = extracted.sections.map((s) => ({ ...s, text: normaliseWhitespace(s.text) })).filter((s) => s.text.length > 0);
  if (sections.length === 0) fail('extraction_failed', `${fileName} contains no readable text`);
  return { title: extracted.title?.trim() || fallbackTitle, mimeType, sections };
}

function titleFromFileName(fileName: string): string {
  return path.basename(fileName, path.extname(fileName)).replace(/[-_]+/g, ' ').trim() || fileName;
}

/** UTF-8 (with or without BOM); files that are not valid UTF-8 are read as Windows-1252. */
export function decodeText(bytes: Buffer): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    return new TextDecoder('windows-1252').decode(bytes);
  }
}

function normaliseWhitespace(text: string): string {
  return text
    .replace(/\r\n?/g, '\n')
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F]/g, '')
    .replace(/[ \t\u00A0]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function extractMarkdown(source: string): { title?: string; sections: Section[] } {
  const sections: Section[] = [];
  let title: string | undefined;
  let heading: string | undefined;
  let lines: string[] = [];
  let inFence = false;
  const flush = () => {
    sections.push({ heading, text: lines.join('\n') });
    lines = [];
  };
  for (const line of source.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) inFence = !inFence;
    const match = !inFence && /^(#{1,6})\s+(.+?)\s*#*\s*$/.exec(line);
    if (match) {
      flush();
      heading = stripMarkdownInline(match[2]!);
      if (!title && match[1] === '#') title = heading;
      continue;
    }
    lines.push(inFence ? line : stripMarkdownInline(line));
  }
  flush();
  return { title, sections };
}

function stripMarkdownInline(line: string): string {
  return line
    .replace(/!\[([^\]]*)\]\([^)]*\)/g, '$1')
    .replace(/\[([^\]]+)\]\([^)]*\)/g, '$1')
    .replace(/(\*\*|__)(.+?)\1/g, '$2')
    .replace(/`([^`]+)`/g, '$1')
    .replace(/^\s*>\s?/, '')
    .replace(/^\s*[-*+]\s+/, '- ')
    .replace(/^\s*\|?(\s*:?-{3,}:?\s*\|)+\s*$/, '')
    .replace(/^\s*\|\s*/, '')
    .replace(/\s*\|\s*$/, '');
}

/** A plain-text file's first line is its title when it is short enough to be one. */
function extractPlainText(source: string): { title?: string; sections: Section[] } {
  const firstLine = source.split(/\r?\n/).find((line) => line.trim())?.trim();
  return { title: firstLine && firstLine.length <= 150 ? firstLine : undefined, sections: [{ text: source }] };
}

const SKIPPED_HTML = new Set(['script', 'style', 'noscript', 'template', 'svg', 'head', 'nav', 'iframe', 'object']);
const BLOCK_HTML = new Set(['p', 'div', 'li', 'tr', 'br', 'section', 'article', 'table', 'ul', 'ol', 'blockquote', 'pre', 'dd', 'dt', 'footer', 'header', 'main', 'aside', 'figcaption']);

/** HTML (also what mammoth makes of a .docx): headings open sections; scripts, styles and navigation are dropped. */
export function extractHtml(source: string): { title?: string; sections: Section[] } {
  const sections: Section[] = [];
  let title = '';
  let inTitle = false;
  let skipDepth = 0;
  let headingLevel = 0;
  let headingText = '';
  let heading: string | undefined;
  let text = '';
  const parser = new Parser(
    {
      onopentag(name) {
        if (name === 'title') inTitle = true;
        if (SKIPPED_HTML.has(name) && name !== 'head') skipDepth++;
        if (/^h[1-6]$/.test(name) && skipDepth === 0) {
          sections.push({ heading, text });
          text = '';
          headingLevel = Number(name[1]);
          headingText = '';
        }
        if (BLOCK_HTML.has(name)) text += '\n';
        if (name === 'td' || name === 'th') text += ' | ';
      },
      ontext(data) {
        if (inTitle) title += data;
        else if (skipDepth > 0) return;
        else if (headingLevel > 0) headingText += data;
        else text += data;
      },
      onclosetag(name) {
        if (name === 'title') inTitle = false;
        if (SKIPPED_HTML.has(name) && name !== 'head') skipDepth = Math.max(0, skipDepth - 1);
        if (/^h[1-6]$/.test(name) && headingLevel > 0) {
          heading = headingText.replace(/\s+/g, ' ').trim() || undefined;
          if (!title && headingLevel === 1 && heading) title = heading;
          headingLevel = 0;
        }
        if (BLOCK_HTML.has(name)) text += '\n';
      },
    },
    { decodeEntities: true, lowerCaseTags: true },
  );
  parser.write(source);
  parser.end();
  sections.push({ heading, text });
  return { title: title.replace(/\s+/g, ' ').trim() || undefined, sections };
}

async function extractDocx(fileName: string, bytes: Buffer): Promise<{ title?: string; sections: Section[] }> {
  assertOfficeOpenXml(fileName, bytes, 'Word document');
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes })).value;
  } catch (error) {
    fail('extraction_failed', `${fileName} is not a readable Word document: ${(error as Error).message}`, { cause: error });
  }
  return extractHtml(html);
}

async function extractPdf(fileName: string, bytes: Buffer): Promise<{ title?: string; sections: Section[] }> {
  try {
    const { getDocumentProxy, extractText } = await import('unpdf');
    const pdf = await getDocumentProxy(new Uint8Array(bytes));
    const metadata = await pdf.getMetadata().catch(() => undefined);
    const { text } = await extractText(pdf, { mergePages: false });
    const info = metadata?.info as { Title?: unknown } | undefined;
    const title = typeof info?.Title === 'string' ? info.Title : undefined;
    await pdf.destroy();
    return { title, sections: text.map((pageText, i) => ({ heading: `Page ${i + 1}`, text: pageText })) };
  } catch (error) {
    // pdf.js asks for the password with a PasswordException before it reads anything.
    if ((error as Error | undefined)?.name === 'PasswordException') fail('extraction_failed', `${fileName} is password-protected; remove the password to index it`, { cause: error });
    fail('extraction_failed', `${fileName} is not a readable PDF: ${(error as Error).message}`, { cause: error });
  }
}
