/**
 * Keys derived from the one master key (HKDF-SHA-256, RFC 5869), one per purpose, so a key
 * leaked from one use (say, session signing) reveals nothing about another (stored emails).
 * In local mode the master key lives in DATA_DIR/keys/master.key (mode 0400), created once.
 */
import { hkdfSync, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fail } from '../errors';

export interface DerivedKeys {
  sessionSigning: Buffer;
  emailEncryption: Buffer;
  emailIndex: Buffer;
  secretEncryption: Buffer;
  tokenIndex: Buffer;
  blobEncryption: Buffer;
  /** HMAC key of short-lived download links (api/files/downloadLinks.ts). */
  downloadLinkSigning: Buffer;
  /** Signs data-export download links (api/privacy/export.ts): a file link never opens an export. */
  exportLinkSigning: Buffer;
}

export function deriveKeys(masterKey: Buffer): DerivedKeys {
  if (masterKey.length !== 32) fail('config_invalid', 'The master key must be 32 bytes');
  const derive = (purpose: string) => Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `kluis:${purpose}:v1`, 32));
  return {
    sessionSigning: derive('session-signing'),
    emailEncryption: derive('email-encryption'),
    emailIndex: derive('email-index'),
    secretEncryption: derive('secret-encryption'),
    tokenIndex: derive('token-index'),
    blobEncryption: derive('blob-encryption'),
    downloadLinkSigning: derive('download-link-signing'),
    exportLinkSigning: derive('export-link-signing'),
  };
}

/** The local master key: read DATA_DIR/keys/master.key, or create it (0400) on first start. */
export function loadOrCreateLocalMasterKey(dataDir: string): Buffer {
  const file = path.join(dataDir, 'keys', 'master.key');
  if (!fs.existsSync(file)) {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    try {
      fs.writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o400, flag: 'wx' });
    } catch (error) {
      // Another process created it first; read theirs.
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
  }
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  if (key.length !== 32) fail('config_invalid', `${file} does not hold 64 hex characters`);
  return key;
}
