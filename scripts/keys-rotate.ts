/**
 * `npm run keys:rotate`: moves every workspace data key onto the key-encryption key of the current
 * DATA_KEY_ROOT, so the roots before it can be thrown away. Backups keep the data keys as they were
 * wrapped then, including keys Kluis has destroyed since (an erased workspace); once the root that
 * wrapped them is gone, nothing in such a backup can be unwrapped, and the erasure holds in every
 * copy.
 *
 * Reads DATA_KEY_ROOT (the new root), DATA_KEY_ROOT_PREVIOUS (the root it replaces, unset on the
 * first move off the master key), MASTER_KEY and DATABASE_URL, through api/config.ts. Kluis
 * replicas running with the same settings unwrap under every one of them, so the rotation runs while
 * they serve; it can run again (what is already re-wrapped is left alone).
 *
 * The master key also derives the keys of sign-in data (stored e-mail addresses and their lookup
 * index, TOTP secrets, invitation and reset tokens) and of MinIO's server-side encryption. Those stay
 * on the master key and are not touched here, which is why the data keys have a root of their own:
 * the master key is never destroyed, so backups from before the first move off it open until they
 * expire; every later root can be destroyed after its rotation.
 *
 * With DATA_KEY_VAULT_KEY set, the data keys move into Azure Key Vault instead: every live data key
 * wrapped by a local root (DATA_KEY_ROOT, DATA_KEY_ROOT_PREVIOUS, MASTER_KEY) or by another enabled
 * version of the vault key (after a rotation in Key Vault) is re-wrapped under the key's current
 * version. The command then authenticates like the replicas (their managed identity).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, loadConfig } from '../api/config';
import { createDatabase, type Database } from '../api/db/client';
import { fail, isKluisError } from '../api/errors';
import type { TokenCredential } from '@azure/identity';
import { createWorkspaceDataKeys } from '../api/privacy/dataKeys';
import { combineKeyEncryptionKeys, type KeyVaultSettings } from '../api/privacy/dataKeysKekSet';
import { keyVaultCredential, openKeyVaultKeyEncryptionKeys } from '../api/privacy/dataKeysKeyVault';
import { createLocalKeyEncryptionKeys } from '../api/privacy/dataKeysLocalKek';
import { createPrismaDataKeyStore } from '../api/privacy/prismaDataKeyStore';

export interface RotationOutcome {
  /** Data keys now wrapped under DATA_KEY_ROOT's KEK. */
  rewrapped: number;
  /** Live data keys wrapped under none of the roots given: no root may be thrown away while above zero. */
  unknownKek: number;
}

export interface RotationRoots {
  /** DATA_KEY_ROOT: the root every live data key ends up under. */
  root: Buffer;
  /** DATA_KEY_ROOT_PREVIOUS: the root it replaces; unset on the first move off the master key. */
  rootPrevious?: Buffer;
  /** The master key: what wrapped the data keys before the first root (without it, those count as unknown). */
  masterKey?: Buffer;
}

/** Re-wraps every live data key wrapped under `rootPrevious` or `masterKey` with the KEK of `root`; destroyed keys stay destroyed. */
export async function rotateDataKeyRoot(db: Database, roots: RotationRoots): Promise<RotationOutcome> {
  if (roots.masterKey?.equals(roots.root)) fail('config_invalid', 'DATA_KEY_ROOT is the master key: give the data keys a root of their own (openssl rand -hex 32)');
  if (roots.rootPrevious?.equals(roots.root)) fail('config_invalid', 'DATA_KEY_ROOT and DATA_KEY_ROOT_PREVIOUS are the same key: nothing to rotate');
  const retired = [roots.rootPrevious, roots.masterKey].filter((k): k is Buffer => k !== undefined);
  const service = createWorkspaceDataKeys(createPrismaDataKeyStore(db), createLocalKeyEncryptionKeys(roots.root, retired));
  return service.rewrapAll();
}

/**
 * Re-wraps every live data key under the current version of the Key Vault key, from the local roots
 * given (any of them may be missing) and from the key's other enabled versions. `overrides`: another
 * credential or TLS trust (tests).
 */
export async function rotateDataKeysIntoKeyVault(
  db: Database,
  roots: Partial<RotationRoots>,
  vault: KeyVaultSettings,
  overrides: { credential?: TokenCredential; tlsOptions?: { ca?: string | string[] } } = {},
): Promise<RotationOutcome & { currentKeyId: string }> {
  const inVault = await openKeyVaultKeyEncryptionKeys({ keyUrl: vault.keyUrl, credential: overrides.credential ?? keyVaultCredential(vault.identityClientId), tlsOptions: overrides.tlsOptions });
  const [first, ...rest] = [roots.root, roots.rootPrevious, roots.masterKey].filter((k): k is Buffer => k !== undefined);
  const keks = first ? combineKeyEncryptionKeys(inVault, [createLocalKeyEncryptionKeys(first, rest)]) : inVault;
  return { ...(await createWorkspaceDataKeys(createPrismaDataKeyStore(db), keks).rewrapAll()), currentKeyId: inVault.currentKeyId };
}

/** MASTER_KEY, or in local mode the key file Kluis created (read only: this command never creates one). */
function masterKeyOf(config: ReturnType<typeof loadConfig>): Buffer | undefined {
  if (config.masterKey) return config.masterKey;
  const file = path.join(config.dataDir, 'keys', 'master.key');
  if (!config.localMode || !fs.existsSync(file)) return undefined;
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'hex');
  if (key.length !== 32) fail('config_invalid', `${file} does not hold 64 hex characters`);
  return key;
}

async function main(argv: readonly string[]): Promise<number> {
  if (argv.length) {
    console.error('kluis: npm run keys:rotate takes no arguments; it reads DATA_KEY_ROOT (new), DATA_KEY_ROOT_PREVIOUS (old, if any), MASTER_KEY and DATABASE_URL, and DATA_KEY_VAULT_KEY (and DATA_KEY_VAULT_IDENTITY) to move the data keys into Azure Key Vault.');
    return 2;
  }
  const config = loadConfig(process.env, { profile: 'local' });
  if (!config.database.url) {
    console.error('kluis: set DATABASE_URL to the database of the Kluis deployment.');
    return 2;
  }
  if (config.dataKeyVault) return intoKeyVault(config, config.dataKeyVault);
  if (!config.dataKeyRoot) {
    console.error(
      'kluis: set DATA_KEY_ROOT to the new root of the data keys (openssl rand -hex 32), as on the replicas. On the first move off MASTER_KEY leave DATA_KEY_ROOT_PREVIOUS unset; to rotate a root, put the one it replaces in DATA_KEY_ROOT_PREVIOUS. MASTER_KEY is read too but never changed.',
    );
    return 2;
  }
  const masterKey = masterKeyOf(config);
  const db = createDatabase(config.database.url, 1);
  try {
    const outcome = await rotateDataKeyRoot(db, { root: config.dataKeyRoot, rootPrevious: config.dataKeyRootPrevious, masterKey });
    console.log(`kluis: ${outcome.rewrapped} workspace data keys re-wrapped under DATA_KEY_ROOT.`);
    if (outcome.unknownKek > 0) {
      console.error(
        `kluis: ${outcome.unknownKek} data keys are wrapped under a key that is neither DATA_KEY_ROOT, DATA_KEY_ROOT_PREVIOUS nor ${masterKey ? 'MASTER_KEY' : 'MASTER_KEY (which is not set)'}: a root before DATA_KEY_ROOT_PREVIOUS (an earlier rotation not finished?). Run again with that root in DATA_KEY_ROOT_PREVIOUS; destroy no root until this reports none.`,
      );
      return 1;
    }
    console.log('kluis: every live data key is under DATA_KEY_ROOT. Sign-in data and MinIO stay under MASTER_KEY, untouched.');
    if (!config.dataKeyRootPrevious) {
      console.log(
        'kluis: backups taken before this first move off MASTER_KEY hold data keys wrapped under MASTER_KEY, which cannot be destroyed (it protects sign-in data): they still open, destroyed workspace keys included, until those backups expire. From now on each rotation of DATA_KEY_ROOT (the new root in DATA_KEY_ROOT, the old one in DATA_KEY_ROOT_PREVIOUS, then this command), followed by destroying the previous root, makes the keys destroyed before it unrecoverable from older backups.',
      );
    } else {
      console.log(
        'kluis: keep DATA_KEY_ROOT_PREVIOUS until every replica runs with the new DATA_KEY_ROOT and the backups older than now have expired (or were restored and rotated); then remove it and destroy the old root. From then on the data keys destroyed before now cannot be recovered from those backups (backups from before the first move off MASTER_KEY open with MASTER_KEY until they expire).',
      );
    }
    return 0;
  } finally {
    await db.$disconnect();
  }
}

async function intoKeyVault(config: ReturnType<typeof loadConfig>, vault: KeyVaultSettings): Promise<number> {
  const masterKey = masterKeyOf(config);
  const db = createDatabase(config.database.url!, 1);
  try {
    const outcome = await rotateDataKeysIntoKeyVault(db, { root: config.dataKeyRoot, rootPrevious: config.dataKeyRootPrevious, masterKey }, vault);
    console.log(`kluis: ${outcome.rewrapped} workspace data keys re-wrapped under the Azure Key Vault key ${outcome.currentKeyId.slice(3)}.`);
    if (outcome.unknownKek > 0) {
      console.error(
        `kluis: ${outcome.unknownKek} data keys are wrapped under a key that is neither an enabled version of DATA_KEY_VAULT_KEY nor DATA_KEY_ROOT, DATA_KEY_ROOT_PREVIOUS or ${masterKey ? 'MASTER_KEY' : 'MASTER_KEY (which is not set)'}: set the root that wrapped them (or enable the key version) and run again; destroy no root and disable no version until this reports none.`,
      );
      return 1;
    }
    console.log(
      'kluis: every live data key is under the current version of DATA_KEY_VAULT_KEY. DATA_KEY_ROOT and DATA_KEY_ROOT_PREVIOUS may be removed from the replicas once the backups older than now have expired; MASTER_KEY stays (it protects sign-in data and MinIO). Older versions of the vault key may be disabled once the same holds for them.',
    );
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
