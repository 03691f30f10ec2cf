// Kluis on Azure, as far as provisioning needs it now (teamsapp.yml, arm/deploy):
//   - an App Service plan and a Linux web app running `npm run serve` (Kluis's production start)
//     with Kluis's settings as app settings;
//   - a user-assigned managed identity that is the bot's identity (BOT_TYPE=UserAssignedMSI: the bot
//     has no secret to leak or rotate), assigned to the web app so Kluis can get its tokens;
//   - the Azure Bot (single tenant, that identity), its Microsoft Teams channel, and the OAuth
//     connection through which Teams SSO tokens are exchanged for Graph tokens (BOT_OAUTH_CONNECTION).
// Not yet provisioned here: MySQL Flexible Server, storage, Key Vault (DATABASE_URL is a parameter,
// and the secrets are app settings until Key Vault references replace them).

@description('Base of every resource name; the web app becomes <resourceBaseName>.azurewebsites.net.')
@minLength(4)
@maxLength(20)
param resourceBaseName string

@description('Region of the plan, the web app and the identity (the Azure Bot itself is global).')
param location string = resourceGroup().location

@description('App Service plan size; B1 and up keep the app always on.')
param appServiceSku string = 'B1'

@description('Client id of Kluis\'s Entra app (aadApp/create): ENTRA_CLIENT_ID, and the app of the OAuth connection.')
param entraClientId string

@description('Client secret of Kluis\'s Entra app: ENTRA_CLIENT_SECRET (On-Behalf-Of) and the OAuth connection\'s secret.')
@secure()
param entraClientSecret string

@description('Tenant of Kluis\'s Entra app: the organisation Kluis serves.')
param entraTenantId string

@description('Kluis\'s MASTER_KEY: 64 hex characters (openssl rand -hex 32).')
@secure()
param masterKey string

@description('Kluis\'s DATABASE_URL: mysql://user:password@host:3306/database of a MySQL 8 or MariaDB server.')
@secure()
param databaseUrl string

@description('Kluis\'s ONBOARD_TENANTS: tenantId=Name pairs separated by commas.')
param onboardTenants string

@description('Name of the OAuth connection setting on the Azure Bot: Kluis\'s BOT_OAUTH_CONNECTION.')
param oauthConnectionName string = 'KluisGraph'

@description('Delegated Graph scopes the bot\'s sign-in asks for.')
param oauthScopes string = 'openid profile offline_access User.Read Files.Read.All Sites.Read.All'

@description('Name of the bot as Azure shows it.')
@maxLength(42)
param botDisplayName string = 'Kluis'

resource botIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${resourceBaseName}-bot'
  location: location
}

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

// Kluis's settings (api/config.ts; README, "Configuration"). App Service sets PORT itself.
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
    ENTRA_CLIENT_SECRET: entraClientSecret
    MASTER_KEY: masterKey
    DATABASE_URL: databaseUrl
    ONBOARD_TENANTS: onboardTenants
  }
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
// webApplicationInfo.resource, or Teams falls back to the sign-in card every time.
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
