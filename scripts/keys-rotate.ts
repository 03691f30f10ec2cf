/**
 * `npm run keys:rotate`: moves every workspace data key onto the key-encryption key of a new master
 * key, so the old master key can be thrown away. Backups keep the data keys as they were wrapped
 * then, including keys Kluis has destroyed since (an erased workspace); once the old master key is
 * gone, nothing in such a backup can be unwrapped, and the erasure holds in every copy.
 *
 * Reads MASTER_KEY (the new key), MASTER_KEY_PREVIOUS (the retired one) and DATABASE_URL, through
 * api/config.ts. Kluis replicas running with both keys set unwrap with either, so the rotation
 * runs while they serve; it can run again (what is already re-wrapped is left alone).
 *
 * The master key also derives the keys of sign-in data (stored e-mail addresses and their lookup
 * index, TOTP secrets, invitation and reset tokens) and of MinIO's server-side encryption; those are
 * not re-keyed here, so the command refuses to run while such data exists rather than leave it
 * unreadable under the new key.
 */
import { ConfigError, loadConfig } from '../api/config';
import { createDatabase, type Database } from '../api/db/client';
import { fail, isKluisError } from '../api/errors';
import { createWorkspaceDataKeys } from '../api/privacy/dataKeys';
import { createLocalKeyEncryptionKeys } from '../api/privacy/dataKeysLocalKek';
import { createPrismaDataKeyStore } from '../api/privacy/prismaDataKeyStore';

export interface RotationOutcome {
  /** Data keys now wrapped by the new master key's KEK. */
  rewrapped: number;
  /** Live data keys wrapped by neither key: the previous key must not be thrown away while above zero. */
  unknownKek: number;
}

/** What else the master key protects in this deployment, one line each; empty when only data keys depend on it. */
export async function otherDependents(db: Database, blobStore: 'folder' | 'minio'): Promise<string[]> {
  // Across workspaces by design, as the data key store's own rotation query.
  const count = async (sql: string) => Number((await db.$queryRawUnsafe<Array<{ n: bigint | number }>>(sql))[0]?.n ?? 0);
  const found: string[] = [];
  const credentials = await count('SELECT COUNT(*) AS n FROM `Credential`');
  if (credentials > 0) found.push(`${credentials} credentials logins (e-mail addresses, their lookup index and TOTP secrets are encrypted with keys derived from the master key)`);
  const invitations = await count('SELECT COUNT(*) AS n FROM `Invitation` WHERE `usedAt` IS NULL AND `expiresAt` > NOW(3)');
  if (invitations > 0) found.push(`${invitations} open invitations (their e-mail index and token hash are keyed by the master key; let them expire or revoke them)`);
  if (blobStore === 'minio') found.push('the MinIO blob store (its server-side encryption key is derived from the master key)');
  return found;
}

/** Re-wraps every live data key wrapped by `previous` with the KEK of `masterKey`; destroyed keys stay destroyed. */
export async function rotateMasterKey(db: Database, keys: { masterKey: Buffer; previous: Buffer; blobStore: 'folder' | 'minio' }): Promise<RotationOutcome> {
  if (keys.masterKey.equals(keys.previous)) fail('config_invalid', 'MASTER_KEY and MASTER_KEY_PREVIOUS are the same key: nothing to rotate');
  const others = await otherDependents(db, keys.blobStore);
  if (others.length) {
    fail('config_invalid', `The master key also protects data this command cannot re-key yet, which the new key would leave unreadable: ${others.join('; ')}. Nothing was changed.`);
  }
  const service = createWorkspaceDataKeys(createPrismaDataKeyStore(db), createLocalKeyEncryptionKeys(keys.masterKey, [keys.previous]));
  return service.rewrapAll();
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length) {
    console.error('kluis: npm run keys:rotate takes no arguments; it reads MASTER_KEY (new), MASTER_KEY_PREVIOUS (old) and DATABASE_URL.');
    return 2;
  }
  const config = loadConfig(process.env, { profile: 'local' });
  if (!config.database.url) {
    console.error('kluis: set DATABASE_URL to the database of the Kluis deployment.');
    return 2;
  }
  if (!config.masterKey || !config.masterKeyPrevious) {
    console.error('kluis: set MASTER_KEY to the new master key and MASTER_KEY_PREVIOUS to the one it replaces (64 hex characters each).');
    return 2;
  }
  const db = createDatabase(config.database.url, 1);
  try {
    const outcome = await rotateMasterKey(db, { masterKey: config.masterKey, previous: config.masterKeyPrevious, blobStore: config.blobStore.kind });
    console.log(`kluis: ${outcome.rewrapped} workspace data keys re-wrapped with the new master key.`);
    if (outcome.unknownKek > 0) {
      console.error(`kluis: ${outcome.unknownKek} data keys are wrapped by a key that is neither MASTER_KEY nor MASTER_KEY_PREVIOUS (an earlier rotation not finished?). Keep every old master key until they are re-wrapped.`);
      return 1;
    }
    console.log('kluis: every live data key is on the new master key. Keep MASTER_KEY_PREVIOUS until every replica runs with the new MASTER_KEY and the backups older than now have expired (or were restored and rotated); then remove it and destroy the old key.');
    return 0;
  } finally {
    await db.$disconnect();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`kluis: ${error instanceof ConfigError || isKluisError(error) ? error.message : (error as Error).stack}`);
      process.exit(1);
    },
  );
}
