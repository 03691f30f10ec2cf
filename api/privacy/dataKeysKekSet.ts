/**
 * The key-encryption keys (KEKs) Kluis runs with, as one `KeyEncryptionKeys`: with
 * DATA_KEY_VAULT_KEY set, the Azure Key Vault key wraps (api/privacy/dataKeysKeyVault.ts) and the
 * local KEKs (DATA_KEY_ROOT, DATA_KEY_ROOT_PREVIOUS, the master key; api/privacy/dataKeysLocalKek.ts)
 * still unwrap what they wrapped before the move, so `npm run keys:rotate` re-wraps those data keys
 * into Key Vault while the replicas serve. Without it, the local KEKs alone.
 */
import type { TokenCredential } from '@azure/identity';
import { fail } from '../errors';
import { dataKeyEncryptionKeys, type DataKeyRoots } from './dataKeysLocalKek';
import { keyVaultCredential, openKeyVaultKeyEncryptionKeys } from './dataKeysKeyVault';
import type { KeyEncryptionKeys } from './ports';

/**
 * Wraps with `current`; unwraps with whichever of `current` and `others` knows the kekId (every id
 * the others know counts as retired, so `rewrapAll` moves their data keys onto `current`).
 */
export function combineKeyEncryptionKeys(current: KeyEncryptionKeys, others: readonly KeyEncryptionKeys[]): KeyEncryptionKeys {
  const owners = new Map<string, KeyEncryptionKeys>();
  for (const keks of others) for (const id of [keks.currentKeyId, ...keks.retiredKeyIds]) owners.set(id, keks);
  for (const id of [current.currentKeyId, ...current.retiredKeyIds]) owners.set(id, current);
  const ownerOf = (kekId: string) => owners.get(kekId) ?? (kekId.startsWith(prefixOf(current.currentKeyId)) ? current : others.find((k) => kekId.startsWith(prefixOf(k.currentKeyId))));
  return {
    currentKeyId: current.currentKeyId,
    retiredKeyIds: [...owners.keys()].filter((id) => id !== current.currentKeyId),
    wrap: (workspaceId, dataKey) => current.wrap(workspaceId, dataKey),
    async unwrap(workspaceId, wrapped, kekId) {
      const owner = ownerOf(kekId);
      if (!owner) fail('config_invalid', `Data key wrapped by an unknown key-encryption key ${kekId}: neither DATA_KEY_VAULT_KEY nor DATA_KEY_ROOT, DATA_KEY_ROOT_PREVIOUS or MASTER_KEY`);
      return owner.unwrap(workspaceId, wrapped, kekId);
    },
  };
}

/** `kv:` or `local:`: the kind of KEK an id names (a Key Vault version this replica has not seen yet still goes to the vault). */
function prefixOf(kekId: string): string {
  return kekId.slice(0, kekId.indexOf(':') + 1);
}

export interface KeyVaultSettings {
  /** DATA_KEY_VAULT_KEY */
  keyUrl: string;
  /** DATA_KEY_VAULT_IDENTITY */
  identityClientId?: string;
}

/**
 * The KEKs of a replica (api/main.ts) and of `npm run keys:rotate`: the vault key wraps when
 * `vault` is set (its other enabled versions and the local roots unwrap), else the local roots as
 * `dataKeyEncryptionKeys` chooses. `overrides`: another credential or TLS trust (tests).
 */
export async function openDataKeyEncryptionKeys(
  roots: DataKeyRoots,
  vault: KeyVaultSettings | undefined,
  overrides: { credential?: TokenCredential; tlsOptions?: { ca?: string | string[] } } = {},
): Promise<KeyEncryptionKeys> {
  const local = dataKeyEncryptionKeys(roots);
  if (!vault) return local;
  const inVault = await openKeyVaultKeyEncryptionKeys({ keyUrl: vault.keyUrl, credential: overrides.credential ?? keyVaultCredential(vault.identityClientId), tlsOptions: overrides.tlsOptions });
  return combineKeyEncryptionKeys(inVault, [local]);
}
