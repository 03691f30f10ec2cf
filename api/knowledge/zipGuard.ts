/**
 * A guard against zip bombs in Office files (a .docx is a zip archive). Before anything is
 * decompressed, the central directory's declared sizes must stay below an absolute cap and a
 * compression-ratio cap. Declared sizes can lie; the caps still stop the classic bombs, whose
 * headers are honest, and keep a malformed archive from reaching the parser.
 */
import { fail } from '../errors';

export const MAX_UNCOMPRESSED_BYTES = 256 * 1024 * 1024;
export const MAX_COMPRESSION_RATIO = 100;
const MAX_ENTRIES = 10_000;

const EOCD_SIGNATURE = 0x06054b50;
const CENTRAL_ENTRY_SIGNATURE = 0x02014b50;

export function assertSafeZip(fileName: string, bytes: Buffer): void {
  // The end-of-central-directory record is in the last 22 + 65535 (comment) bytes.
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (bytes.readUInt32LE(i) === EOCD_SIGNATURE) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) fail('extraction_failed', `${fileName} is not a readable Word document: no zip directory`);
  const entries = bytes.readUInt16LE(eocd + 10);
  let offset = bytes.readUInt32LE(eocd + 16);
  if (entries > MAX_ENTRIES) fail('extraction_failed', `${fileName} has too many parts (${entries})`);
  let total = 0;
  for (let n = 0; n < entries; n++) {
    if (offset + 46 > bytes.length || bytes.readUInt32LE(offset) !== CENTRAL_ENTRY_SIGNATURE) fail('extraction_failed', `${fileName} is not a readable Word document: damaged zip directory`);
    const uncompressed = bytes.readUInt32LE(offset + 24);
    // 0xFFFFFFFF means the real size is in a ZIP64 record: more than 4 GiB, far past any cap.
    if (uncompressed === 0xffffffff) fail('extraction_failed', `${fileName} declares a part larger than 4 GiB`);
    total += uncompressed;
    offset += 46 + bytes.readUInt16LE(offset + 28) + bytes.readUInt16LE(offset + 30) + bytes.readUInt16LE(offset + 32);
  }
  if (total > MAX_UNCOMPRESSED_BYTES) fail('extraction_failed', `${fileName} would expand to ${total} bytes (limit ${MAX_UNCOMPRESSED_BYTES})`);
  if (total > MAX_COMPRESSION_RATIO * Math.max(bytes.length, 1) && total > 1024 * 1024) fail('extraction_failed', `${fileName} is compressed ${Math.round(total / bytes.length)}:1, which only zip bombs do`);
}
