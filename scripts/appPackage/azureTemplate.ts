/**
 * The security rules of Kluis's Azure template (infra/azure/main.bicep), checked in its text: no
 * Bicep compiler is at hand, so resources are read with a small reader of Bicep's object syntax
 * (one `key: value` per line, `{`/`[` opening and `}`/`]` closing blocks) and values are kept as
 * the expressions they are written as. What it checks:
 *
 * - no @secure() parameter, nor a variable built from one, reaches an app setting as plain text;
 *   every secret setting is a Key Vault reference to a secret of this template, resolved with the
 *   user-assigned identity (keyVaultReferenceIdentity);
 * - that identity holds "Key Vault Secrets User" and "Key Vault Crypto User" on the vault;
 * - MySQL Flexible Server: no public network access, a delegated subnet and a private DNS zone,
 *   require_secure_transport ON and only TLS 1.2 or newer, MySQL 8.0, 7 days of backups;
 * - Key Vault: RBAC authorisation, soft delete and purge protection, no public network access and
 *   a private endpoint;
 * - storage: https only, TLS 1.2, no public blob access, no shared-key access, infrastructure
 *   encryption, no public network access and a private endpoint, blob soft delete and versioning;
 * - the web app is integrated into a subnet delegated to Microsoft.Web/serverFarms and routes all
 *   its traffic there.
 */
import { readBicep } from './toolkitProject';

export type BicepValue = string | BicepValue[] | { [key: string]: BicepValue };

export interface BicepResource {
  symbol: string;
  type: string;
  existing: boolean;
  body: { [key: string]: BicepValue };
}

/** Top-level `resource` declarations with their bodies as nested objects of expressions. */
export function readBicepResources(text: string): BicepResource[] {
  const resources: BicepResource[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const header = /^resource\s+(\w+)\s+'([^'@]+)@[^']+'(\s+existing)?\s*=\s*(?:if\s*\(.*\)\s*)?\{$/.exec(lines[i]!.trimEnd());
    if (!header) continue;
    const stack: Array<{ [key: string]: BicepValue } | BicepValue[]> = [{}];
    const root = stack[0] as { [key: string]: BicepValue };
    for (i++; i < lines.length && stack.length; i++) {
      const line = lines[i]!.trim();
      if (!line || line.startsWith('//')) continue;
      const top = stack[stack.length - 1]!;
      if (line === '}' || line === ']') {
        stack.pop();
        continue;
      }
      const entry = /^('[^']*'|[\w$]+|'\$\{[^}]+\}'):\s*(.*)$/.exec(line);
      if (entry && !Array.isArray(top)) {
        const key = entry[1]!.replace(/^'|'$/g, '');
        const value = entry[2]!;
        if (value === '{') stack.push((top[key] = {}));
        else if (value === '[') stack.push((top[key] = []));
        else top[key] = value;
      } else if (Array.isArray(top)) {
        if (line === '{') {
          const element = {};
          top.push(element);
          stack.push(element);
        } else top.push(line);
      }
    }
    i--;
    resources.push({ symbol: header[1]!, type: header[2]!, existing: !!header[3], body: root });
  }
  return resources;
}

/** The value at a dotted path, or undefined. */
export function valueAt(value: BicepValue | undefined, dotted: string): BicepValue | undefined {
  let current: BicepValue | undefined = value;
  for (const key of dotted.split('.')) {
    if (!current || typeof current !== 'object' || Array.isArray(current)) return undefined;
    current = current[key];
  }
  return current;
}

/** Kluis settings that hold secrets; on Azure each must be a Key Vault reference. */
export const SECRET_SETTINGS = ['MASTER_KEY', 'DATABASE_URL', 'ENTRA_CLIENT_SECRET', 'BOT_PASSWORD', 'DATA_KEY_ROOT', 'DATA_KEY_ROOT_PREVIOUS', 'QDRANT_API_KEY', 'MINIO_SECRET_KEY'];

export const ROLE = {
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d297424',
};

const mentions = (expression: string, name: string) => new RegExp(`(^|[^\\w.])${name}\\b`).test(expression);
const literal = (value: BicepValue | undefined) => (typeof value === 'string' && /^'[^']*'$/.test(value) ? value.slice(1, -1) : undefined);

export function checkAzureTemplate(text: string): string[] {
  const problems: string[] = [];
  const resources = readBicepResources(text);
  const ofType = (type: string) => resources.filter((r) => r.type.toLowerCase() === type.toLowerCase() && !r.existing);
  const bySymbol = new Map(resources.map((r) => [r.symbol, r]));

  // Identifiers that carry a secure parameter: the parameters, and variables built from them (transitively).
  const tainted = new Set([...readBicep(text).params].filter(([, p]) => p.secure).map(([name]) => name));
  const variables = [...text.matchAll(/^var\s+(\w+)\s*=\s*(.+)$/gm)].map((m) => [m[1]!, m[2]!] as const);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, expression] of variables) {
      if (!tainted.has(name) && [...tainted].some((t) => mentions(expression, t))) {
        tainted.add(name);
        grew = true;
      }
    }
  }

  // The web app, its settings and the identity it resolves Key Vault references with.
  const sites = ofType('Microsoft.Web/sites');
  const settingsResources = ofType('Microsoft.Web/sites/config').filter((r) => literal(r.body.name) === 'appsettings');
  if (sites.length !== 1) problems.push(`expected one web app (Microsoft.Web/sites), found ${sites.length}`);
  if (settingsResources.length !== 1) problems.push(`expected one appsettings resource (Microsoft.Web/sites/config), found ${settingsResources.length}`);
  const site = sites[0];
  const referenceIdentity = site ? /^(\w+)\.id$/.exec(String(valueAt(site.body, 'properties.keyVaultReferenceIdentity') ?? ''))?.[1] : undefined;
  if (site && !referenceIdentity) problems.push('the web app must set keyVaultReferenceIdentity to a user-assigned identity (<identity>.id)');
  const settings = (settingsResources[0] && valueAt(settingsResources[0].body, 'properties')) ?? {};
  const secretSymbols = new Set(ofType('Microsoft.KeyVault/vaults/secrets').map((r) => r.symbol));
  for (const [name, value] of Object.entries(settings as Record<string, BicepValue>)) {
    const expression = String(value);
    const reference = /^'@Microsoft\.KeyVault\(SecretUri=\$\{(\w+)\.properties\.secretUri\}\)'$/.exec(expression);
    if (reference && !secretSymbols.has(reference[1]!)) problems.push(`app setting ${name} refers to ${reference[1]}, which is not a Key Vault secret of this template`);
    for (const t of tainted) if (mentions(expression, t)) problems.push(`app setting ${name} carries the secure value ${t} as plain text: store it as a Key Vault secret and use a Key Vault reference`);
    if (SECRET_SETTINGS.includes(name) && !reference) problems.push(`app setting ${name} is a secret and must be a Key Vault reference '@Microsoft.KeyVault(SecretUri=\${<secret>.properties.secretUri})', not ${expression}`);
  }

  // Web app in the network, all outbound traffic routed through it.
  if (site) {
    const subnet = /^(\w+)\.id$/.exec(String(valueAt(site.body, 'properties.virtualNetworkSubnetId') ?? ''))?.[1];
    if (!subnet) problems.push('the web app must be integrated into a subnet (properties.virtualNetworkSubnetId: <subnet>.id)');
    else if (delegationOf(subnet) !== 'Microsoft.Web/serverFarms') problems.push(`the web app's subnet ${subnet} must be delegated to Microsoft.Web/serverFarms`);
    if (valueAt(site.body, 'properties.vnetRouteAllEnabled') !== 'true') problems.push('the web app must route all outbound traffic through the network (properties.vnetRouteAllEnabled: true)');
    if (valueAt(site.body, 'properties.httpsOnly') !== 'true') problems.push('the web app must be https only');
  }

  // The service a subnet (an `existing` child of a network declared here) is delegated to.
  function delegationOf(symbol: string): string | undefined {
    const subnet = bySymbol.get(symbol);
    const vnet = subnet && bySymbol.get(String(subnet.body.parent));
    const name = subnet && literal(subnet.body.name);
    const declared = (valueAt(vnet?.body, 'properties.subnets') ?? []) as BicepValue[];
    const entry = declared.find((s) => literal(valueAt(s, 'name')) === name);
    const delegations = (valueAt(entry, 'properties.delegations') ?? []) as BicepValue[];
    return delegations.map((d) => literal(valueAt(d, 'properties.serviceName'))).find(Boolean);
  }

  const privateEndpointTargets = new Set(ofType('Microsoft.Network/privateEndpoints').flatMap((e) => ((valueAt(e.body, 'properties.privateLinkServiceConnections') ?? []) as BicepValue[]).map((c) => String(valueAt(c, 'properties.privateLinkServiceId')).replace(/\.id$/, ''))));
  const expect = (resource: BicepResource, dotted: string, wanted: string, why: string) => {
    const got = valueAt(resource.body, dotted);
    if (got !== wanted) problems.push(`${resource.symbol} (${resource.type}): ${dotted} must be ${wanted} (${why}), not ${got === undefined ? 'missing' : String(got)}`);
  };

  // MySQL Flexible Server.
  const servers = ofType('Microsoft.DBforMySQL/flexibleServers');
  if (!servers.length) problems.push('no MySQL Flexible Server (Microsoft.DBforMySQL/flexibleServers)');
  const configurations = ofType('Microsoft.DBforMySQL/flexibleServers/configurations');
  for (const server of servers) {
    expect(server, 'properties.network.publicNetworkAccess', "'Disabled'", 'reachable only inside the network');
    const subnet = /^(\w+)\.id$/.exec(String(valueAt(server.body, 'properties.network.delegatedSubnetResourceId') ?? ''))?.[1];
    if (!subnet || delegationOf(subnet) !== 'Microsoft.DBforMySQL/flexibleServers') problems.push(`${server.symbol}: network.delegatedSubnetResourceId must be a subnet delegated to Microsoft.DBforMySQL/flexibleServers`);
    const zone = bySymbol.get(/^(\w+)\.id$/.exec(String(valueAt(server.body, 'properties.network.privateDnsZoneResourceId') ?? ''))?.[1] ?? '');
    if (!zone || !/\.private\.mysql\.database\.azure\.com'$/.test(String(zone.body.name))) problems.push(`${server.symbol}: network.privateDnsZoneResourceId must be a private DNS zone <name>.private.mysql.database.azure.com`);
    if (!/^'8\.0/.test(String(valueAt(server.body, 'properties.version')))) problems.push(`${server.symbol}: version must be MySQL 8.0`);
    const retention = Number(valueAt(server.body, 'properties.backup.backupRetentionDays'));
    if (!(retention >= 7)) problems.push(`${server.symbol}: backup.backupRetentionDays must be at least 7 (point-in-time recovery window)`);
    const parameter = (name: string) => configurations.find((c) => c.body.parent === server.symbol && literal(c.body.name) === name);
    const requireTls = parameter('require_secure_transport');
    if (!requireTls || literal(valueAt(requireTls.body, 'properties.value'))?.toUpperCase() !== 'ON') problems.push(`${server.symbol}: server parameter require_secure_transport must be ON`);
    const tlsVersions = literal(valueAt(parameter('tls_version')?.body, 'properties.value'))?.split(',').map((v) => v.trim());
    if (!tlsVersions?.length || tlsVersions.some((v) => !['TLSv1.2', 'TLSv1.3'].includes(v))) problems.push(`${server.symbol}: server parameter tls_version must allow only TLSv1.2 and newer`);
  }

  // Key Vault.
  const vaults = ofType('Microsoft.KeyVault/vaults');
  if (vaults.length !== 1) problems.push(`expected one Key Vault, found ${vaults.length}`);
  for (const vault of vaults) {
    expect(vault, 'properties.enableRbacAuthorization', 'true', 'roles, not access policies');
    expect(vault, 'properties.enablePurgeProtection', 'true', 'deleted secrets and keys cannot be purged before their retention ends');
    if (valueAt(vault.body, 'properties.enableSoftDelete') === 'false') problems.push(`${vault.symbol}: soft delete must stay on`);
    expect(vault, 'properties.publicNetworkAccess', "'Disabled'", 'only the private endpoint');
    if (!privateEndpointTargets.has(vault.symbol)) problems.push(`${vault.symbol}: no private endpoint reaches the Key Vault`);
    // Roles of the identity that resolves the references (and wraps data keys).
    const assignments = ofType('Microsoft.Authorization/roleAssignments').filter((a) => a.body.scope === vault.symbol);
    for (const [role, id] of [['Key Vault Secrets User', ROLE.keyVaultSecretsUser], ['Key Vault Crypto User', ROLE.keyVaultCryptoUser]] as const) {
      const roleVariables = variables.filter(([, expression]) => expression === `'${id}'`).map(([name]) => name);
      const found = assignments.some((a) => {
        const definition = String(valueAt(a.body, 'properties.roleDefinitionId') ?? '');
        return (definition.includes(id) || roleVariables.some((v) => mentions(definition, v))) && valueAt(a.body, 'properties.principalId') === `${referenceIdentity}.properties.principalId`;
      });
      if (!found) problems.push(`${vault.symbol}: the identity ${referenceIdentity ?? '(none)'} needs the role ${role} (${id}) scoped to the vault`);
    }
  }
  const keys = ofType('Microsoft.KeyVault/vaults/keys').filter((k) => literal(k.body.name) === 'kluis-data-kek');
  if (keys.length !== 1) problems.push('expected the Key Vault key kluis-data-kek');
  const dataKeySetting = String((settings as Record<string, BicepValue>).DATA_KEY_VAULT_KEY ?? '');
  if (keys[0] && dataKeySetting !== `${keys[0].symbol}.properties.keyUri`) problems.push(`app setting DATA_KEY_VAULT_KEY must be the versionless id of kluis-data-kek (${keys[0].symbol}.properties.keyUri)`);

  // Storage.
  const accounts = ofType('Microsoft.Storage/storageAccounts');
  if (!accounts.length) problems.push('no storage account');
  for (const account of accounts) {
    expect(account, 'properties.supportsHttpsTrafficOnly', 'true', 'https only');
    expect(account, 'properties.minimumTlsVersion', "'TLS1_2'", 'TLS 1.2 or newer');
    expect(account, 'properties.allowBlobPublicAccess', 'false', 'no anonymous reads');
    expect(account, 'properties.allowSharedKeyAccess', 'false', 'Entra authorisation only, no account keys');
    expect(account, 'properties.encryption.requireInfrastructureEncryption', 'true', 'a second layer of encryption at rest');
    expect(account, 'properties.publicNetworkAccess', "'Disabled'", 'only private endpoints');
    if (!privateEndpointTargets.has(account.symbol)) problems.push(`${account.symbol}: no private endpoint reaches the storage account`);
    const blob = ofType('Microsoft.Storage/storageAccounts/blobServices').find((b) => b.body.parent === account.symbol);
    if (!blob) problems.push(`${account.symbol}: blob service settings (soft delete, versioning) missing`);
    else {
      expect(blob, 'properties.isVersioningEnabled', 'true', 'overwritten backups stay recoverable');
      expect(blob, 'properties.deleteRetentionPolicy.enabled', 'true', 'deleted backups stay recoverable');
    }
  }
  return problems;
}
