// Kluis on Azure (teamsapp.yml, arm/deploy). One template for every environment: dev, staging and
// prod differ only by the values in env/.env.<environment> (names, sizes, redundancy), never here.
//
//   - a virtual network: the web app's outbound subnet (VNet integration, all traffic routed through
//     it), a subnet delegated to MySQL Flexible Server and a subnet for private endpoints;
//   - an App Service plan and a Linux web app running `npm run serve` (Kluis's production start):
//     the only resource that listens publicly;
//   - a user-assigned managed identity that is the bot's identity (BOT_TYPE=UserAssignedMSI: the bot
//     has no secret to leak or rotate), the web app's identity for Key Vault, and the identity Kluis
//     wraps workspace data keys with (the Key Vault key kluis-data-kek);
//   - Azure Database for MySQL Flexible Server (MySQL 8.0) reachable only inside the network, TLS
//     required, with the database `kluis`; DATABASE_URL is built here from its host name;
//   - a Key Vault (RBAC, purge protection, private endpoint only) holding MASTER_KEY, DATABASE_URL and
//     ENTRA_CLIENT_SECRET, which the web app reads through Key Vault references;
//   - a storage account (private endpoint only, Entra authorisation only) with the container
//     `kluis-backups` for the encrypted files of infra/backup/backup.sh;
//   - the Azure Bot (single tenant, that identity), its Microsoft Teams channel, and the OAuth
//     connection through which Teams SSO tokens are exchanged for Graph tokens (BOT_OAUTH_CONNECTION).
//
// Written without the Bicep compiler at hand; scripts/appPackage/azureTemplate.ts checks the rules
// above in the text of this file.

@description('Base of every resource name; the web app becomes <resourceBaseName>.azurewebsites.net. Lower-case letters and digits (the storage account name is derived from it).')
@minLength(4)
@maxLength(20)
param resourceBaseName string

@description('Region of every regional resource (the Azure Bot itself is global).')
param location string = resourceGroup().location

@description('App Service plan size; B1 and up keep the app always on and allow VNet integration.')
param appServiceSku string = 'B1'

@description('Client id of Kluis\'s Entra app (aadApp/create): ENTRA_CLIENT_ID, and the app of the OAuth connection.')
param entraClientId string

@description('Client secret of Kluis\'s Entra app: ENTRA_CLIENT_SECRET (On-Behalf-Of, via Key Vault) and the OAuth connection\'s secret.')
@secure()
param entraClientSecret string

@description('Tenant of Kluis\'s Entra app: the organisation Kluis serves.')
param entraTenantId string

@description('Kluis\'s MASTER_KEY: 64 hex characters (openssl rand -hex 32). Stored in Key Vault only.')
@secure()
param masterKey string

@description('Administrator login of the MySQL server; Kluis connects with it (DATABASE_URL).')
param mysqlAdminLogin string = 'kluisadmin'

@description('Password of the MySQL administrator: 8 to 128 characters from three of upper case, lower case, digits and symbols. Stored in Key Vault only, inside DATABASE_URL.')
@secure()
@minLength(8)
@maxLength(128)
param mysqlAdminPassword string

@description('MySQL compute size, e.g. Standard_B1ms (Burstable), Standard_D2ads_v5 (GeneralPurpose).')
param mysqlSkuName string = 'Standard_B1ms'

@description('MySQL compute tier; it must match mysqlSkuName.')
@allowed([
  'Burstable'
  'GeneralPurpose'
  'MemoryOptimized'
])
param mysqlSkuTier string = 'Burstable'

@description('MySQL storage in GiB (grows by itself when nearly full).')
@minValue(20)
param mysqlStorageGb int = 20

@description('Geo-redundant MySQL backups (a copy in the paired region); can only be chosen when the server is created.')
@allowed([
  'Disabled'
  'Enabled'
])
param mysqlGeoRedundantBackup string = 'Disabled'

@description('Storage account redundancy, e.g. Standard_LRS, Standard_ZRS, Standard_GZRS.')
param storageSku string = 'Standard_LRS'

@description('Key Vault tier: premium keeps kluis-data-kek in an HSM (RSA-HSM).')
@allowed([
  'standard'
  'premium'
])
param keyVaultSku string = 'standard'

@description('Address space of the virtual network.')
param vnetAddressPrefix string = '10.40.0.0/16'

@description('Subnets inside vnetAddressPrefix: the web app\'s outbound (VNet integration), MySQL, private endpoints.')
param subnetPrefixes object = {
  app: '10.40.1.0/24'
  mysql: '10.40.2.0/24'
  privateEndpoints: '10.40.3.0/24'
}

@description('Kluis\'s ONBOARD_TENANTS: tenantId=Name pairs separated by commas.')
param onboardTenants string

@description('Name of the OAuth connection setting on the Azure Bot: Kluis\'s BOT_OAUTH_CONNECTION.')
param oauthConnectionName string = 'KluisGraph'

@description('Delegated Graph scopes the bot\'s sign-in asks for.')
param oauthScopes string = 'openid profile offline_access User.Read Files.Read.All Sites.Read.All'

@description('Name of the bot as Azure shows it.')
@maxLength(42)
param botDisplayName string = 'Kluis'

// Built-in roles (learn.microsoft.com/azure/role-based-access-control/built-in-roles).
var keyVaultSecretsUserRoleId = '4633458b-17de-408a-b874-0445c86b69e6'
var keyVaultCryptoUserRoleId = '12338af0-0e69-4776-bea7-57ae8d297424'

var databaseName = 'kluis'
var mysqlServerName = '${resourceBaseName}-mysql'
var keyVaultName = '${resourceBaseName}-kv'
var storageAccountName = toLower('${resourceBaseName}data')

// ---------------------------------------------------------------------------------------------
// Network: only the web app is public. Its outbound traffic (to MySQL, Key Vault and storage)
// goes through the app subnet; everything else is reachable only inside this network.

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = {
  name: resourceBaseName
  location: location
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: subnetPrefixes.app
          delegations: [
            {
              name: 'app-service'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'mysql'
        properties: {
          addressPrefix: subnetPrefixes.mysql
          delegations: [
            {
              name: 'mysql-flexible-server'
              properties: {
                serviceName: 'Microsoft.DBforMySQL/flexibleServers'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: subnetPrefixes.privateEndpoints
          privateEndpointNetworkPolicies: 'Disabled'
        }
      }
    ]
  }
}

resource appSubnet 'Microsoft.Network/virtualNetworks/subnets@2023-11-01' existing = {
  parent: vnet
  name: 'app'
}

resource mysqlSubnet 'Microsoft.Network/virtualNetworks/subnets@2023-11-01' existing = {
  parent: vnet
  name: 'mysql'
}

resource endpointSubnet 'Microsoft.Network/virtualNetworks/subnets@2023-11-01' existing = {
  parent: vnet
  name: 'private-endpoints'
}

// ---------------------------------------------------------------------------------------------
// Identity

resource botIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${resourceBaseName}-bot'
  location: location
}

// ---------------------------------------------------------------------------------------------
// MySQL Flexible Server, following learn.microsoft.com/azure/templates/microsoft.dbformysql/
// 2023-12-30/flexibleservers and .../flexibleservers/configurations and .../databases (API version
// 2023-12-30), and "Private Network Access using virtual network integration" for MySQL Flexible
// Server: a delegated subnet and a private DNS zone named <name>.private.mysql.database.azure.com
// linked to the network. Without a public endpoint the server has no firewall rules at all.
// Encryption at rest is always on for Flexible Server: data, backups and logs are encrypted with
// a service-managed key (AES-256); nothing to switch on here.

resource mysqlDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: '${mysqlServerName}.private.mysql.database.azure.com'
  location: 'global'
}

resource mysqlDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: mysqlDnsZone
  name: resourceBaseName
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource mysqlServer 'Microsoft.DBforMySQL/flexibleServers@2023-12-30' = {
  name: mysqlServerName
  location: location
  sku: {
    name: mysqlSkuName
    tier: mysqlSkuTier
  }
  properties: {
    version: '8.0.21'
    administratorLogin: mysqlAdminLogin
    administratorLoginPassword: mysqlAdminPassword
    storage: {
      storageSizeGB: mysqlStorageGb
      autoGrow: 'Enabled'
    }
    // Point-in-time restore to any second of the last 7 days (README, "Backups": the same window
    // as backup.sh's binary logs); the longer keep rules need backup.sh db, see README, "Azure".
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: mysqlGeoRedundantBackup
    }
    network: {
      delegatedSubnetResourceId: mysqlSubnet.id
      privateDnsZoneResourceId: mysqlDnsZone.id
      publicNetworkAccess: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
  }
  dependsOn: [
    mysqlDnsLink
  ]
}

// Server parameters are changed one at a time (the service refuses concurrent changes).
resource mysqlRequireTls 'Microsoft.DBforMySQL/flexibleServers/configurations@2023-12-30' = {
  parent: mysqlServer
  name: 'require_secure_transport'
  properties: {
    value: 'ON'
    source: 'user-override'
  }
}

resource mysqlTlsVersion 'Microsoft.DBforMySQL/flexibleServers/configurations@2023-12-30' = {
  parent: mysqlServer
  name: 'tls_version'
  properties: {
    value: 'TLSv1.2,TLSv1.3'
    source: 'user-override'
  }
  dependsOn: [
    mysqlRequireTls
  ]
}

resource mysqlDatabase 'Microsoft.DBforMySQL/flexibleServers/databases@2023-12-30' = {
  parent: mysqlServer
  name: databaseName
  properties: {
    charset: 'utf8mb4'
    collation: 'utf8mb4_0900_ai_ci'
  }
  dependsOn: [
    mysqlTlsVersion
  ]
}

// sslaccept=strict: TLS with the server's certificate verified (README, "Database").
var databaseUrl = 'mysql://${uriComponent(mysqlAdminLogin)}:${uriComponent(mysqlAdminPassword)}@${mysqlServer.properties.fullyQualifiedDomainName}:3306/${databaseName}?sslaccept=strict'

// ---------------------------------------------------------------------------------------------
// Key Vault: RBAC only (no access policies), soft delete with purge protection, and no public
// endpoint at all — a private endpoint in the network instead of a firewall, because the web app
// is its only reader, and it reaches the vault through the network (VNet integration with all
// traffic routed). Secrets and keys below are written by this deployment through Azure Resource
// Manager (the management plane), which the vault's network rules do not apply to.

resource keyVault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: keyVaultName
  location: location
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: keyVaultSku
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    enablePurgeProtection: true
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'None'
    }
  }
}

resource masterKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'kluis-master-key'
  properties: {
    value: masterKey
    contentType: 'MASTER_KEY'
  }
}

resource databaseUrlSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'kluis-database-url'
  properties: {
    value: databaseUrl
    contentType: 'DATABASE_URL'
  }
}

resource entraClientSecretSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: keyVault
  name: 'kluis-entra-client-secret'
  properties: {
    value: entraClientSecret
    contentType: 'ENTRA_CLIENT_SECRET'
  }
}

// The key that wraps workspace data keys (DATA_KEY_VAULT_KEY). Kluis refers to it without a version,
// so a rotation gives new wraps the new version while older versions keep unwrapping.
resource dataKek 'Microsoft.KeyVault/vaults/keys@2023-07-01' = {
  parent: keyVault
  name: 'kluis-data-kek'
  properties: {
    kty: keyVaultSku == 'premium' ? 'RSA-HSM' : 'RSA'
    keySize: 3072
    keyOps: [
      'wrapKey'
      'unwrapKey'
    ]
    rotationPolicy: {
      attributes: {
        expiryTime: 'P2Y'
      }
      lifetimeActions: [
        {
          trigger: {
            timeAfterCreate: 'P1Y'
          }
          action: {
            type: 'rotate'
          }
        }
        {
          trigger: {
            timeBeforeExpiry: 'P30D'
          }
          action: {
            type: 'notify'
          }
        }
      ]
    }
  }
}

resource secretsUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, botIdentity.id, keyVaultSecretsUserRoleId)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultSecretsUserRoleId)
    principalId: botIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource cryptoUserRole 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(keyVault.id, botIdentity.id, keyVaultCryptoUserRoleId)
  scope: keyVault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', keyVaultCryptoUserRoleId)
    principalId: botIdentity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource keyVaultDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.vaultcore.azure.net'
  location: 'global'
}

resource keyVaultDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: keyVaultDnsZone
  name: resourceBaseName
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource keyVaultEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: '${keyVaultName}-endpoint'
  location: location
  properties: {
    subnet: {
      id: endpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: 'vault'
        properties: {
          privateLinkServiceId: keyVault.id
          groupIds: [
            'vault'
          ]
        }
      }
    ]
  }
}

resource keyVaultEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: keyVaultEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'vault'
        properties: {
          privateDnsZoneId: keyVaultDnsZone.id
        }
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// Storage for backups: Entra authorisation only (no account keys), no public endpoint (a private
// endpoint for blobs), double encryption at rest (service and infrastructure layer), soft delete
// and versioning. Kluis's own DATA_DIR stays on App Service's persistent /home share: App Service
// mounts an Azure Files share only with the account key, which would re-enable shared-key access
// on the account that holds the backups.

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: storageAccountName
  location: location
  kind: 'StorageV2'
  sku: {
    name: storageSku
  }
  properties: {
    accessTier: 'Hot'
    supportsHttpsTrafficOnly: true
    minimumTlsVersion: 'TLS1_2'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      defaultAction: 'Deny'
      bypass: 'None'
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: storage
  name: 'default'
  properties: {
    isVersioningEnabled: true
    deleteRetentionPolicy: {
      enabled: true
      days: 14
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: 14
    }
  }
}

resource backupContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: 'kluis-backups'
  properties: {
    publicAccess: 'None'
  }
}

resource blobDnsZone 'Microsoft.Network/privateDnsZones@2020-06-01' = {
  name: 'privatelink.blob.${environment().suffixes.storage}'
  location: 'global'
}

resource blobDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = {
  parent: blobDnsZone
  name: resourceBaseName
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

resource blobEndpoint 'Microsoft.Network/privateEndpoints@2023-11-01' = {
  name: '${storageAccountName}-blob-endpoint'
  location: location
  properties: {
    subnet: {
      id: endpointSubnet.id
    }
    privateLinkServiceConnections: [
      {
        name: 'blob'
        properties: {
          privateLinkServiceId: storage.id
          groupIds: [
            'blob'
          ]
        }
      }
    ]
  }
}

resource blobEndpointDns 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2023-11-01' = {
  parent: blobEndpoint
  name: 'default'
  properties: {
    privateDnsZoneConfigs: [
      {
        name: 'blob'
        properties: {
          privateDnsZoneId: blobDnsZone.id
        }
      }
    ]
  }
}

// ---------------------------------------------------------------------------------------------
// The web app: the one public endpoint.

resource plan 'Microsoft.Web/serverfarms@2023-12-01' = {
  name: resourceBaseName
  location: location
  kind: 'linux'
  sku: {
    name: appServiceSku
  }
  properties: {
    reserved: true
  }
}

resource webApp 'Microsoft.Web/sites@2023-12-01' = {
  name: resourceBaseName
  location: location
  kind: 'app,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${botIdentity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Outbound through the network: MySQL, Key Vault (references included) and storage are private.
    virtualNetworkSubnetId: appSubnet.id
    vnetRouteAllEnabled: true
    keyVaultReferenceIdentity: botIdentity.id
    siteConfig: {
      linuxFxVersion: 'NODE|20-lts'
      appCommandLine: 'npm run serve'
      alwaysOn: true
      ftpsState: 'Disabled'
      minTlsVersion: '1.2'
      http20Enabled: true
      healthCheckPath: '/healthz'
    }
  }
}

var kluisDomain = webApp.properties.defaultHostName
var kluisEndpoint = 'https://${kluisDomain}'
// Teams SSO for an app with a tab and a bot: the Application ID URI on the app's domain, naming the bot.
var entraApiUri = 'api://${kluisDomain}/botid-${botIdentity.properties.clientId}'

// Kluis's settings (api/config.ts; README, "Configuration"). App Service sets PORT itself. Secrets
// are Key Vault references resolved with the user-assigned identity (keyVaultReferenceIdentity).
resource webAppSettings 'Microsoft.Web/sites/config@2023-12-01' = {
  parent: webApp
  name: 'appsettings'
  properties: {
    SCM_DO_BUILD_DURING_DEPLOYMENT: 'true'
    LOCAL_MODE: 'false'
    HOST: '0.0.0.0'
    PUBLIC_URL: kluisEndpoint
    // App Service's front end is the one proxy in front of Kluis.
    TRUST_PROXY: '1'
    DATA_DIR: '/home/kluis-data'
    BOT_ID: botIdentity.properties.clientId
    BOT_TYPE: 'UserAssignedMSI'
    BOT_TENANT_ID: botIdentity.properties.tenantId
    BOT_OAUTH_CONNECTION: oauthConnectionName
    ENTRA_CLIENT_ID: entraClientId
    ENTRA_API_URI: entraApiUri
    ENTRA_CLIENT_SECRET: '@Microsoft.KeyVault(SecretUri=${entraClientSecretSecret.properties.secretUri})'
    MASTER_KEY: '@Microsoft.KeyVault(SecretUri=${masterKeySecret.properties.secretUri})'
    DATABASE_URL: '@Microsoft.KeyVault(SecretUri=${databaseUrlSecret.properties.secretUri})'
    DATA_KEY_VAULT_KEY: dataKek.properties.keyUri
    DATA_KEY_VAULT_IDENTITY: botIdentity.properties.clientId
    ONBOARD_TENANTS: onboardTenants
  }
  dependsOn: [
    secretsUserRole
    cryptoUserRole
    keyVaultEndpointDns
    mysqlDatabase
  ]
}

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: resourceBaseName
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: 'F0'
  }
  properties: {
    displayName: botDisplayName
    endpoint: '${kluisEndpoint}/api/messages'
    msaAppId: botIdentity.properties.clientId
    msaAppMSIResourceId: botIdentity.id
    msaAppTenantId: botIdentity.properties.tenantId
    msaAppType: 'UserAssignedMSI'
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
  }
}

// Azure Active Directory v2 provider; the token exchange URL must equal the manifest's
// webApplicationInfo.resource, or Teams falls back to the sign-in card every time. The Bot Service
// keeps this secret itself (it cannot read a Key Vault reference).
resource oauthConnection 'Microsoft.BotService/botServices/connections@2022-09-15' = {
  parent: bot
  name: oauthConnectionName
  location: 'global'
  properties: {
    serviceProviderDisplayName: 'Azure Active Directory v2'
    serviceProviderId: '30dd229c-58e3-4a48-bdfd-91ec48eb906c'
    clientId: entraClientId
    clientSecret: entraClientSecret
    scopes: oauthScopes
    parameters: [
      {
        key: 'tenantID'
        value: entraTenantId
      }
      {
        key: 'tokenExchangeUrl'
        value: entraApiUri
      }
    ]
  }
}

// Written to env/.env.<environment> by arm/deploy; the app package and aadApp/update read them.
output BOT_ID string = botIdentity.properties.clientId
output BOT_TENANT_ID string = botIdentity.properties.tenantId
output BOT_OAUTH_CONNECTION string = oauthConnectionName
output KLUIS_ENDPOINT string = kluisEndpoint
output KLUIS_DOMAIN string = kluisDomain
output ENTRA_API_URI string = entraApiUri
output KLUIS_APP_SERVICE_RESOURCE_ID string = webApp.id
output KLUIS_DATA_KEY_VAULT_KEY string = dataKek.properties.keyUri
