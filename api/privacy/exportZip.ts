/**
 * ArchiveWriter as a zip (archiver). Entries are deflated one after another while the archive
 * streams into memory: `add` resolves once its entry is written, so at most one file waits in the
 * queue however many files an export holds.
 */
import archiver from 'archiver';
import { fail } from '../errors';
import type { ArchiveWriter } from './exportPorts';

export function createZipArchive(options: { level?: number; date?: Date } = {}): ArchiveWriter {
  const zip = archiver('zip', { zlib: { level: options.level ?? 6 } });
  const chunks: Buffer[] = [];
  let failure: unknown;
  let aborted = false;
  zip.on('data', (chunk: Buffer) => chunks.push(chunk));
  zip.on('error', (error) => (failure = error));
  zip.on('warning', (error) => (failure = error));
  const ended = new Promise<void>((resolve, reject) => {
    zip.on('end', () => resolve());
    zip.on('error', reject);
  });
  // Nobody may be waiting on `ended` when an entry fails: its rejection is seen through `failure`.
  ended.catch(() => undefined);
  const date = options.date ?? new Date();

  return {
    async add(name, content) {
      if (aborted) fail('internal', 'Archive already aborted');
      if (failure) fail('internal', 'Archive failed', { cause: failure });
      const written = new Promise<void>((resolve, reject) => {
        const onEntry = () => {
          zip.off('error', onError);
          resolve();
        };
        const onError = (error: unknown) => {
          zip.off('entry', onEntry);
          reject(error);
        };
        zip.once('entry', onEntry);
        zip.once('error', onError);
      });
      zip.append(content, { name, date });
      await written;
    },
    async finish() {
      if (aborted) fail('internal', 'Archive already aborted');
      await zip.finalize();
      await ended;
      if (failure) fail('internal', 'Archive failed', { cause: failure });
      return Buffer.concat(chunks);
    },
    abort() {
      if (aborted) return;
      aborted = true;
      zip.abort();
      chunks.length = 0;
    },
  };
}
