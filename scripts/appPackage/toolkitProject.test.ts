import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, SETTING_NAMES } from '../../api/config';
import { APP_ROLE_VALUES } from '../../api/tenancy/principals';
import { parse } from 'yaml';
import { connectionOptions } from '../../api/db/migrate';
import { placeholderNames } from './placeholders';
import { checkAzureTemplate, readBicepResources, ROLE, SECRET_SETTINGS } from './azureTemplate';
import { checkEnvironmentFiles, checkToolkitProject, readBicep } from './toolkitProject';

const repo = path.resolve(__dirname, '..', '..');
const read = (file: string) => fs.readFileSync(path.join(repo, file), 'utf8');

/** The cloud environments of teamsapp.yml: one template, different values. */
const AZURE_ENVIRONMENTS = ['dev', 'staging', 'prod'];

const PROJECTS = [
  { projectFile: 'teamsapp.yml', environment: 'dev' },
  { projectFile: 'teamsapp.yml', environment: 'staging' },
  { projectFile: 'teamsapp.yml', environment: 'prod' },
  { projectFile: 'teamsapp.local.yml', environment: 'local' },
];

let roots: string[] = [];
afterEach(() => {
  for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  roots = [];
});

/** A copy of the toolkit project's files, one of them edited. */
function projectWith(file: string, edit: (text: string) => string): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kluis-toolkit-'));
  roots.push(root);
  for (const f of ['teamsapp.yml', 'teamsapp.local.yml', 'env/.env.dev', 'env/.env.staging', 'env/.env.prod', 'env/.env.local', 'infra/azure/main.bicep', 'infra/azure/main.parameters.json', 'appPackage/aad.manifest.json', 'appPackage/manifest.json', '.webappignore']) {
    fs.mkdirSync(path.dirname(path.join(root, f)), { recursive: true });
    const text = read(f);
    fs.writeFileSync(path.join(root, f), f === file ? edit(text) : text);
  }
  return root;
}

/** The app settings the Bicep template gives the web app, as NAME -> expression. */
function bicepAppSettings(): Map<string, string> {
  const bicep = read('infra/azure/main.bicep');
  const block = /resource webAppSettings '[^']+' = \{[\s\S]*?properties: \{([\s\S]*?)\n {2}\}\n\}/.exec(bicep);
  expect(block).not.toBeNull();
  const settings = new Map<string, string>();
  for (const line of block![1]!.split('\n')) {
    const m = /^\s*([A-Z][A-Z0-9_]*):\s*(.+)$/.exec(line);
    if (m) settings.set(m[1]!, m[2]!.trim());
  }
  return settings;
}

/** The DATABASE_URL the template stores in Key Vault, with sample values for its parts. */
function templateDatabaseUrl(): string {
  const expression = /^var databaseUrl = '(.*)'$/m.exec(read('infra/azure/main.bicep'));
  expect(expression).not.toBeNull();
  const parts: Record<string, string> = {
    'uriComponent(mysqlAdminLogin)': 'kluisadmin',
    'uriComponent(mysqlAdminPassword)': encodeURIComponent('S3cret:/@pass'),
    'mysqlServer.properties.fullyQualifiedDomainName': 'kluisdemo-mysql.private.mysql.database.azure.com',
    databaseName: 'kluis',
  };
  return expression![1]!.replace(/\$\{([^}]+)\}/g, (_, part: string) => {
    if (parts[part] === undefined) throw new Error(`no sample for \${${part}} in DATABASE_URL`);
    return parts[part]!;
  });
}

/** The web app's settings as Kluis receives them, computed values replaced by samples. */
function deployedSettings(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, expression] of bicepAppSettings()) if (name !== 'SCM_DO_BUILD_DURING_DEPLOYMENT') env[name] = sample(name, expression);
  return env;
}

/** A valid sample value for a Kluis setting, where the deployment supplies a computed one. */
function sample(name: string, expression: string): string {
  const literal = /^'([^']*)'$/.exec(expression);
  // A Key Vault reference reaches Kluis as the secret's value, which App Service puts in its place.
  if (literal && !literal[1]!.startsWith('@Microsoft.KeyVault(')) return literal[1]!;
  const samples: Record<string, string> = {
    PUBLIC_URL: 'https://kluisdemo.azurewebsites.net',
    BOT_ID: '8c0e2d4f-6a7b-4c9d-8e1f-223344556677',
    BOT_TENANT_ID: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a',
    BOT_PASSWORD: 'a-bot-secret',
    BOT_OAUTH_CONNECTION: 'KluisGraph',
    ENTRA_CLIENT_ID: '1a2b3c4d-5e6f-4a8b-9c0d-334455667788',
    ENTRA_API_URI: 'api://kluisdemo.azurewebsites.net/botid-8c0e2d4f-6a7b-4c9d-8e1f-223344556677',
    ENTRA_CLIENT_SECRET: 'an-entra-secret',
    MASTER_KEY: 'ab'.repeat(32),
    DATABASE_URL: templateDatabaseUrl(),
    ONBOARD_TENANTS: '9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a=Contoso BV',
    DATA_KEY_VAULT_KEY: 'https://kluisdemo-kv.vault.azure.net/keys/kluis-data-kek',
    DATA_KEY_VAULT_IDENTITY: '8c0e2d4f-6a7b-4c9d-8e1f-223344556677',
  };
  const value = samples[name];
  if (value === undefined) throw new Error(`no sample value for ${name} = ${expression}`);
  return value;
}

describe('Teams Toolkit project', () => {
  it.each(PROJECTS)('$projectFile passes the structural check against env/.env.$environment', ({ projectFile, environment }) => {
    expect(checkToolkitProject({ root: repo, projectFile, environment })).toEqual([]);
  });

  it('provisions the Entra app, the Azure resources, the Entra API and the package in that order, then deploys and publishes', () => {
    const project = parse(read('teamsapp.yml'));
    expect(project.provision.map((a: any) => a.uses)).toEqual(['aadApp/create', 'teamsApp/create', 'arm/deploy', 'aadApp/update', 'cli/runNpmCommand', 'teamsApp/validateAppPackage', 'teamsApp/update', 'teamsApp/extendToM365']);
    expect(project.deploy.map((a: any) => a.uses)).toEqual(['azureAppService/zipDeploy']);
    expect(project.publish.map((a: any) => a.uses)).toContain('teamsApp/publishAppPackage');
    expect(project.provision[2].with.templates[0]).toMatchObject({ path: './infra/azure/main.bicep', parameters: './infra/azure/main.parameters.json' });
  });

  it('the Bicep template gives the web app exactly Kluis settings, enough for the production start to accept them', () => {
    const settings = bicepAppSettings();
    const platform = new Set(['SCM_DO_BUILD_DURING_DEPLOYMENT']);
    for (const name of settings.keys()) if (!platform.has(name)) expect([name, SETTING_NAMES.includes(name)]).toEqual([name, true]);
    expect(settings.get('BOT_TYPE')).toBe("'UserAssignedMSI'");
    expect(settings.get('LOCAL_MODE')).toBe("'false'");
    const config = loadConfig(deployedSettings(), { dotenv: false });
    expect(config.localMode).toBe(false);
    expect(config.bot).toMatchObject({ appType: 'UserAssignedMSI', oauthConnection: 'KluisGraph' });
    expect(config.database.url).toBeDefined();
    expect(config.onboardTenants).toHaveLength(1);
    // The data keys are wrapped by the vault key the template makes, with the identity it gives the app.
    expect(config.dataKeyVault).toEqual({ keyUrl: 'https://kluisdemo-kv.vault.azure.net/keys/kluis-data-kek', identityClientId: '8c0e2d4f-6a7b-4c9d-8e1f-223344556677' });
  });

  it('teamsapp.local.yml writes only Kluis settings into .env, enough for npm run serve', () => {
    const project = parse(read('teamsapp.local.yml'));
    const write = project.deploy.find((a: any) => a.uses === 'file/createOrUpdateEnvironmentFile' && a.with.target === './.env');
    const env: Record<string, string> = {};
    for (const [name, value] of Object.entries(write.with.envs as Record<string, string>)) {
      expect([name, SETTING_NAMES.includes(name)]).toEqual([name, true]);
      env[name] = /\$\{\{/.test(value) ? sample(name, value) : value;
    }
    expect(loadConfig(env, { dotenv: false }).bot).toMatchObject({ appType: 'SingleTenant' });
  });

  it('the SSO resource is one value everywhere: Bicep output, OAuth connection, web app setting and manifest', () => {
    const bicep = read('infra/azure/main.bicep');
    expect(bicep).toMatch(/var entraApiUri = 'api:\/\/\$\{kluisDomain\}\/botid-\$\{botIdentity\.properties\.clientId\}'/);
    expect(bicep).toMatch(/key: 'tokenExchangeUrl'\s+value: entraApiUri/);
    expect(bicepAppSettings().get('ENTRA_API_URI')).toBe('entraApiUri');
    expect(bicep).toMatch(/output ENTRA_API_URI string = entraApiUri/);
    expect(JSON.parse(read('appPackage/manifest.json')).webApplicationInfo.resource).toBe('${{ENTRA_API_URI}}');
    expect(JSON.parse(read('appPackage/aad.manifest.json')).identifierUris).toEqual(['${{ENTRA_API_URI}}']);
  });

  it('the Entra app exposes access_as_user to exactly the Teams and Outlook clients the README names, with Kluis\'s app roles', () => {
    const aad = JSON.parse(read('appPackage/aad.manifest.json'));
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('### Entra app registration'), readme.indexOf('3. *App roles*', readme.indexOf('### Entra app registration')));
    const documented = [...new Set(section.match(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g))].sort();
    expect(documented.length).toBeGreaterThanOrEqual(7);
    expect(aad.preAuthorizedApplications.map((p: any) => p.appId).sort()).toEqual(documented);
    expect(aad.oauth2Permissions.map((p: any) => p.value)).toEqual(['access_as_user']);
    expect(aad.accessTokenAcceptedVersion).toBe(2);
    expect(aad.appRoles.map((r: any) => r.value).sort()).toEqual(Object.keys(APP_ROLE_VALUES).sort());
    expect(new Set(aad.appRoles.map((r: any) => r.id)).size).toBe(aad.appRoles.length);
    expect(aad.replyUrlsWithType).toContainEqual({ url: 'https://token.botframework.com/.auth/web/redirect', type: 'Web' });
  });

  it('keeps secrets, the local .env and the dependencies out of the App Service upload', () => {
    const ignored = read('.webappignore').split('\n').map((l) => l.trim());
    for (const entry of ['.env', 'env/', 'node_modules/', '.data/', '.git/']) expect(ignored).toContain(entry);
  });
});

describe('the structural check of the Teams Toolkit project refuses', () => {
  const check = (root: string, projectFile = 'teamsapp.yml', environment = 'dev') => checkToolkitProject({ root, projectFile, environment });

  it('an action the toolkit does not know', () => {
    const root = projectWith('teamsapp.yml', (t) => t.replace('uses: teamsApp/update', 'uses: teamsApp/upgrade'));
    expect(check(root)).toContain('teamsapp.yml provision[6]: unknown action "teamsApp/upgrade"');
  });

  it('a missing or unknown parameter', () => {
    const root = projectWith('teamsapp.yml', (t) => t.replace('      signInAudience: AzureADMyOrg\n', '      audience: AzureADMyOrg\n'));
    expect(check(root)).toEqual(['teamsapp.yml provision[0]: aadApp/create needs with.signInAudience', 'teamsapp.yml provision[0]: aadApp/create has no parameter with.audience']);
  });

  it('a secret written to a variable that would be committed', () => {
    const root = projectWith('teamsapp.yml', (t) => t.replace('clientSecret: SECRET_ENTRA_CLIENT_SECRET', 'clientSecret: ENTRA_CLIENT_SECRET'));
    expect(check(root)).toContain('teamsapp.yml provision[0]: writeToEnvironmentFile.clientSecret is a secret and must be written to a SECRET_* variable (kept in .env.<environment>.user), not ENTRA_CLIENT_SECRET');
  });

  it('a variable used before the action that writes it (the package before the Bicep outputs)', () => {
    const root = projectWith('teamsapp.yml', (t) => {
      const armStart = t.indexOf('  # App Service plan + web app');
      const armEnd = t.indexOf('  # Now that the bot id');
      const packageStart = t.indexOf("  # Kluis's own packager");
      const packageEnd = t.indexOf("  # Microsoft's validation rules");
      return t.slice(0, armStart) + t.slice(packageStart, packageEnd) + t.slice(armStart, armEnd) + t.slice(armEnd, packageStart) + t.slice(packageEnd);
    });
    const problems = check(root);
    expect(problems).toContain('teamsapp.yml provision[2]: ${{BOT_ID}} (in appPackage/manifest.json) is not available at this step: set it in env/.env.dev or write it in an earlier action');
    expect(problems).toContain('teamsapp.yml provision[2]: ${{KLUIS_ENDPOINT}} (in appPackage/manifest.json) is not available at this step: set it in env/.env.dev or write it in an earlier action');
  });

  it('a variable nobody sets', () => {
    const root = projectWith('infra/azure/main.parameters.json', (t) => t.replace('${{RESOURCE_SUFFIX}}', '${{KLUIS_SUFFIX}}'));
    expect(check(root)).toEqual(['teamsapp.yml provision[2] templates[0]: ${{KLUIS_SUFFIX}} (in ./infra/azure/main.parameters.json) is not available at this step: set it in env/.env.dev or write it in an earlier action']);
  });

  it('an ARM parameter the template does not declare, a required one not given, a secure one from a plain variable', () => {
    const root = projectWith('infra/azure/main.parameters.json', (t) =>
      t.replace('"mysqlAdminPassword": { "value": "${{SECRET_MYSQL_ADMIN_PASSWORD}}" },', '"mysqlPassword": { "value": "${{SECRET_MYSQL_ADMIN_PASSWORD}}" },').replace('"${{SECRET_KLUIS_MASTER_KEY}}"', '"${{ENTRA_CLIENT_ID}}"'),
    );
    expect(check(root).sort()).toEqual(
      [
        'teamsapp.yml provision[2] templates[0]: ./infra/azure/main.parameters.json gives "mysqlPassword", which ./infra/azure/main.bicep does not declare',
        'teamsapp.yml provision[2] templates[0]: ./infra/azure/main.bicep needs the parameter "mysqlAdminPassword", which ./infra/azure/main.parameters.json does not give',
        'teamsapp.yml provision[2] templates[0]: the secure parameter "masterKey" must come from one SECRET_* variable, not "${{ENTRA_CLIENT_ID}}"',
      ].sort(),
    );
  });

  it('a duplicate key, a wrong version and an unknown lifecycle', () => {
    expect(check(projectWith('teamsapp.yml', (t) => t.replace('version: v1.8\n', 'version: v1.8\nversion: v1.7\n')))).toEqual([expect.stringMatching(/^teamsapp\.yml: Map keys must be unique/)]);
    expect(check(projectWith('teamsapp.yml', (t) => t.replace('version: v1.8\n', 'version: 1.0\n')))).toContain('teamsapp.yml: version must be a schema version like v1.8 (got 1)');
    expect(check(projectWith('teamsapp.yml', (t) => t.replace('\ndeploy:\n', '\ndeploy_to_azure:\n')))).toContain('teamsapp.yml: unknown top-level key "deploy_to_azure"');
  });

  it('an output the environment file does not document', () => {
    const root = projectWith('env/.env.dev', (t) => t.replace('KLUIS_APP_SERVICE_RESOURCE_ID=\n', ''));
    expect(check(root)).toContain('env/.env.dev does not list KLUIS_APP_SERVICE_RESOURCE_ID, which teamsapp.yml writes: add it (empty) with a comment on what it is');
  });

  it('a package path outside appPackage/build and an ignore file that is missing', () => {
    const root = projectWith('teamsapp.yml', (t) => t.replace('appPackagePath: ./appPackage/build/appPackage.${{TEAMSFX_ENV}}.zip\n\n  - uses: teamsApp/update', 'appPackagePath: ./appPackage.zip\n\n  - uses: teamsApp/update').replace('ignoreFile: ./.webappignore', 'ignoreFile: ./.deployignore'));
    const problems = check(root);
    expect(problems).toContain('teamsapp.yml provision[5]: appPackagePath must be under ./appPackage/build/, where npm run package and the toolkit write (got ./appPackage.zip)');
    expect(problems).toContain('teamsapp.yml deploy[0]: ignoreFile ./.deployignore does not exist');
  });
});

describe('readBicep', () => {
  it('reads parameters with their defaults and @secure(), and outputs', () => {
    const bicep = readBicep("@description('x')\n@secure()\nparam a string\nparam b string = 'y'\n// note\nparam c int\noutput D string = a\n");
    expect([...bicep.params]).toEqual([
      ['a', { hasDefault: false, secure: true }],
      ['b', { hasDefault: true, secure: false }],
      ['c', { hasDefault: false, secure: false }],
    ]);
    expect(bicep.outputs).toEqual(['D']);
  });
});

describe('the Azure template', () => {
  const bicep = () => read('infra/azure/main.bicep');

  it('passes the security check: private MySQL with TLS, Key Vault references, private storage, roles, VNet integration', () => {
    expect(checkAzureTemplate(bicep())).toEqual([]);
  });

  it('keeps every secret setting in Key Vault, each reference pointing at the secret holding that value', () => {
    const resources = new Map(readBicepResources(bicep()).map((r) => [r.symbol, r]));
    const settings = bicepAppSettings();
    const expected = { MASTER_KEY: 'masterKey', DATABASE_URL: 'databaseUrl', ENTRA_CLIENT_SECRET: 'entraClientSecret' };
    expect(SECRET_SETTINGS.filter((name) => settings.has(name)).sort()).toEqual(Object.keys(expected).sort());
    for (const [name, value] of Object.entries(expected)) {
      const secret = /^'@Microsoft\.KeyVault\(SecretUri=\$\{(\w+)\.properties\.secretUri\}\)'$/.exec(settings.get(name)!)?.[1];
      expect([name, resources.get(secret ?? '')?.type]).toEqual([name, 'Microsoft.KeyVault/vaults/secrets']);
      expect([name, (resources.get(secret!)!.body.properties as Record<string, unknown>).value]).toEqual([name, value]);
    }
    expect(settings.get('DATA_KEY_VAULT_IDENTITY')).toBe('botIdentity.properties.clientId');
    expect(bicep()).toMatch(/^output KLUIS_DATA_KEY_VAULT_KEY string = dataKek\.properties\.keyUri$/m);
  });

  it('builds DATABASE_URL from the MySQL server with TLS verified, and Kluis reads the encoded password back', () => {
    const url = templateDatabaseUrl();
    expect(url).toBe('mysql://kluisadmin:S3cret%3A%2F%40pass@kluisdemo-mysql.private.mysql.database.azure.com:3306/kluis?sslaccept=strict');
    expect(connectionOptions(loadConfig(deployedSettings(), { dotenv: false }).database.url!)).toMatchObject({
      host: 'kluisdemo-mysql.private.mysql.database.azure.com',
      user: 'kluisadmin',
      password: 'S3cret:/@pass',
      database: 'kluis',
      ssl: { rejectUnauthorized: true },
    });
  });
});

describe('the security check of the Azure template refuses', () => {
  /** The template with exact, unique pieces of text replaced (so a test cannot pass by missing one). */
  const broken = (...edits: Array<[string, string]>) =>
    edits.reduce((text, [from, to]) => {
      expect([from, text.split(from).length - 1]).toEqual([from, 1]);
      return text.replace(from, to);
    }, read('infra/azure/main.bicep'));

  it('a secure parameter in an app setting as plain text', () => {
    const problems = checkAzureTemplate(broken(["MASTER_KEY: '@Microsoft.KeyVault(SecretUri=${masterKeySecret.properties.secretUri})'", 'MASTER_KEY: masterKey']));
    expect(problems).toEqual([
      'app setting MASTER_KEY carries the secure value masterKey as plain text: store it as a Key Vault secret and use a Key Vault reference',
      "app setting MASTER_KEY is a secret and must be a Key Vault reference '@Microsoft.KeyVault(SecretUri=${<secret>.properties.secretUri})', not masterKey",
    ]);
  });

  it('a variable built from a secure parameter in an app setting, and a reference to no secret of the template', () => {
    const problems = checkAzureTemplate(
      broken(
        ["DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${databaseUrlSecret.properties.secretUri})'", "DATABASE_URL: 'x${databaseUrl}'"],
        ['${entraClientSecretSecret.properties.secretUri})', '${entraSecret.properties.secretUri})'],
      ),
    );
    expect(problems).toContain('app setting DATABASE_URL carries the secure value databaseUrl as plain text: store it as a Key Vault secret and use a Key Vault reference');
    expect(problems).toContain('app setting ENTRA_CLIENT_SECRET refers to entraSecret, which is not a Key Vault secret of this template');
  });

  it('Key Vault references without the user-assigned identity, or an identity without its roles', () => {
    expect(checkAzureTemplate(broken(['    keyVaultReferenceIdentity: botIdentity.id\n', '']))).toEqual([
      'the web app must set keyVaultReferenceIdentity to a user-assigned identity (<identity>.id)',
      `keyVault: the identity (none) needs the role Key Vault Secrets User (${ROLE.keyVaultSecretsUser}) scoped to the vault`,
      `keyVault: the identity (none) needs the role Key Vault Crypto User (${ROLE.keyVaultCryptoUser}) scoped to the vault`,
    ]);
    expect(checkAzureTemplate(broken(["var keyVaultCryptoUserRoleId = '12338af0-0e69-4776-bea7-57ae8d297424'", "var keyVaultCryptoUserRoleId = 'e147488a-f6f5-4113-8e2d-b22465e65bf6'"]))).toEqual([
      `keyVault: the identity botIdentity needs the role Key Vault Crypto User (${ROLE.keyVaultCryptoUser}) scoped to the vault`,
    ]);
    const otherScope = broken(['  name: guid(keyVault.id, botIdentity.id, keyVaultSecretsUserRoleId)\n  scope: keyVault\n', '  name: guid(keyVault.id, botIdentity.id, keyVaultSecretsUserRoleId)\n  scope: storage\n']);
    expect(checkAzureTemplate(otherScope)).toEqual([`keyVault: the identity botIdentity needs the role Key Vault Secrets User (${ROLE.keyVaultSecretsUser}) scoped to the vault`]);
  });

  it('MySQL with public access, without required TLS, with TLS 1.1, with too short backups', () => {
    const problems = checkAzureTemplate(
      broken(
        ["      publicNetworkAccess: 'Disabled'\n    }\n    highAvailability", "      publicNetworkAccess: 'Enabled'\n    }\n    highAvailability"],
        ["name: 'require_secure_transport'\n  properties: {\n    value: 'ON'", "name: 'require_secure_transport'\n  properties: {\n    value: 'OFF'"],
        ["value: 'TLSv1.2,TLSv1.3'", "value: 'TLSv1.1,TLSv1.2'"],
        ['backupRetentionDays: 7', 'backupRetentionDays: 1'],
      ),
    );
    expect(problems).toEqual([
      "mysqlServer (Microsoft.DBforMySQL/flexibleServers): properties.network.publicNetworkAccess must be 'Disabled' (reachable only inside the network), not 'Enabled'",
      'mysqlServer: backup.backupRetentionDays must be at least 7 (point-in-time recovery window)',
      'mysqlServer: server parameter require_secure_transport must be ON',
      'mysqlServer: server parameter tls_version must allow only TLSv1.2 and newer',
    ]);
  });

  it('MySQL outside its delegated subnet or without its private DNS zone', () => {
    expect(checkAzureTemplate(broken(['delegatedSubnetResourceId: mysqlSubnet.id', 'delegatedSubnetResourceId: endpointSubnet.id'], ['privateDnsZoneResourceId: mysqlDnsZone.id', 'privateDnsZoneResourceId: keyVaultDnsZone.id']))).toEqual([
      'mysqlServer: network.delegatedSubnetResourceId must be a subnet delegated to Microsoft.DBforMySQL/flexibleServers',
      'mysqlServer: network.privateDnsZoneResourceId must be a private DNS zone <name>.private.mysql.database.azure.com',
    ]);
  });

  it('storage with public blobs, shared keys, single encryption or a public endpoint', () => {
    expect(
      checkAzureTemplate(
        broken(['allowBlobPublicAccess: false', 'allowBlobPublicAccess: true'], ['allowSharedKeyAccess: false', 'allowSharedKeyAccess: true'], ['requireInfrastructureEncryption: true', 'requireInfrastructureEncryption: false'], ['    isVersioningEnabled: true\n', '']),
      ),
    ).toEqual([
      'storage (Microsoft.Storage/storageAccounts): properties.allowBlobPublicAccess must be false (no anonymous reads), not true',
      'storage (Microsoft.Storage/storageAccounts): properties.allowSharedKeyAccess must be false (Entra authorisation only, no account keys), not true',
      'storage (Microsoft.Storage/storageAccounts): properties.encryption.requireInfrastructureEncryption must be true (a second layer of encryption at rest), not false',
      'blobService (Microsoft.Storage/storageAccounts/blobServices): properties.isVersioningEnabled must be true (overwritten backups stay recoverable), not missing',
    ]);
    expect(checkAzureTemplate(broken(["    allowCrossTenantReplication: false\n    publicNetworkAccess: 'Disabled'", "    allowCrossTenantReplication: false\n    publicNetworkAccess: 'Enabled'"], ['privateLinkServiceId: storage.id', 'privateLinkServiceId: keyVault.id']))).toEqual([
      "storage (Microsoft.Storage/storageAccounts): properties.publicNetworkAccess must be 'Disabled' (only private endpoints), not 'Enabled'",
      'storage: no private endpoint reaches the storage account',
    ]);
  });

  it('a Key Vault with access policies, without purge protection, or public', () => {
    expect(
      checkAzureTemplate(broken(['enableRbacAuthorization: true', 'enableRbacAuthorization: false'], ["    enablePurgeProtection: true\n    publicNetworkAccess: 'Disabled'", "    enablePurgeProtection: false\n    publicNetworkAccess: 'Enabled'"])),
    ).toEqual([
      'keyVault (Microsoft.KeyVault/vaults): properties.enableRbacAuthorization must be true (roles, not access policies), not false',
      'keyVault (Microsoft.KeyVault/vaults): properties.enablePurgeProtection must be true (deleted secrets and keys cannot be purged before their retention ends), not false',
      "keyVault (Microsoft.KeyVault/vaults): properties.publicNetworkAccess must be 'Disabled' (only the private endpoint), not 'Enabled'",
    ]);
  });

  it('a web app outside the network, or routing only part of its traffic through it', () => {
    expect(checkAzureTemplate(broken(['virtualNetworkSubnetId: appSubnet.id', 'virtualNetworkSubnetId: mysqlSubnet.id'], ['vnetRouteAllEnabled: true', 'vnetRouteAllEnabled: false']))).toEqual([
      "the web app's subnet mysqlSubnet must be delegated to Microsoft.Web/serverFarms",
      'the web app must route all outbound traffic through the network (properties.vnetRouteAllEnabled: true)',
    ]);
  });

  it('DATA_KEY_VAULT_KEY that is not the versionless id of kluis-data-kek', () => {
    expect(checkAzureTemplate(broken(['DATA_KEY_VAULT_KEY: dataKek.properties.keyUri', 'DATA_KEY_VAULT_KEY: dataKek.properties.keyUriWithVersion']))).toEqual([
      'app setting DATA_KEY_VAULT_KEY must be the versionless id of kluis-data-kek (dataKek.properties.keyUri)',
    ]);
  });
});

describe('the environments of teamsapp.yml', () => {
  it('name the same variables and secrets, and set every size the template takes from them', () => {
    expect(checkEnvironmentFiles(repo, AZURE_ENVIRONMENTS)).toEqual([]);
    const sizes = placeholderNames(read('infra/azure/main.parameters.json')).filter((n) => /_SKU(_NAME|_TIER)?$|GEO_REDUNDANT/.test(n));
    expect(sizes.sort()).toEqual(['APP_SERVICE_SKU', 'KEY_VAULT_SKU', 'MYSQL_GEO_REDUNDANT_BACKUP', 'MYSQL_SKU_NAME', 'MYSQL_SKU_TIER', 'STORAGE_SKU']);
    for (const environment of AZURE_ENVIRONMENTS) {
      const text = read(`env/.env.${environment}`);
      for (const name of sizes) expect([environment, name, new RegExp(`^${name}=\\S+$`, 'm').test(text)]).toEqual([environment, name, true]);
    }
  });

  it('refuse an environment file that names other variables or secrets', () => {
    const root = projectWith('env/.env.prod', (t) => t.replace('STORAGE_SKU=Standard_GZRS\n', 'PROD_ONLY=1\n').replace('# SECRET_MYSQL_ADMIN_PASSWORD', '# SECRET_MYSQL_PASSWORD'));
    expect(checkEnvironmentFiles(root, AZURE_ENVIRONMENTS)).toEqual([
      'env/.env.prod does not name the variable STORAGE_SKU, which env/.env.dev names',
      'env/.env.prod names the variable PROD_ONLY, which env/.env.dev does not',
      'env/.env.prod does not name the secret SECRET_MYSQL_ADMIN_PASSWORD, which env/.env.dev names',
      'env/.env.prod names the secret SECRET_MYSQL_PASSWORD, which env/.env.dev does not',
    ]);
  });

  it('keeps the .user files, where the secrets live, out of git', () => {
    expect(read('.gitignore').split('\n')).toContain('env/.env.*.user');
  });
});

describe('readBicepResources', () => {
  it('reads resources as nested objects of expressions, arrays included, and existing ones marked', () => {
    const resources = readBicepResources(
      "resource a 'X.Y/z@2024-01-01' = {\n  name: 'n'\n  // note\n  properties: {\n    list: [\n      'one'\n      {\n        k: true\n      }\n    ]\n    '${x.id}': {}\n  }\n}\n\nresource b 'X.Y/z/w@2024-01-01' existing = {\n  parent: a\n  name: 'm'\n}\n",
    );
    expect(resources).toEqual([
      { symbol: 'a', type: 'X.Y/z', existing: false, body: { name: "'n'", properties: { list: ["'one'", { k: 'true' }], '${x.id}': '{}' } } },
      { symbol: 'b', type: 'X.Y/z/w', existing: true, body: { parent: 'a', name: "'m'" } },
    ]);
  });
});
