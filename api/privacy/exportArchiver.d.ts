/** The part of archiver@7 (no bundled types) that the export's zip adapter uses. */
declare module 'archiver' {
  import type { Readable } from 'node:stream';

  interface EntryData {
    name: string;
    date?: Date;
  }

  interface Archiver extends Readable {
    append(source: Buffer | string, data: EntryData): this;
    finalize(): Promise<void>;
    abort(): this;
  }

  function archiver(format: 'zip', options?: { zlib?: { level?: number }; forceZip64?: boolean }): Archiver;
  export = archiver;
}
