// The Flex Consumption Function App, its app settings and (optionally) App Service Authentication.
// Modelled on the Azure-Samples Flex Consumption quickstarts' infra/app/api.bicep: the app runs as the
// user-assigned identity main.bicep creates, for host storage, the deployment package, Application Insights
// and (through AZURE_CLIENT_ID) the app's own calls to Table storage and Graph.
param name string
@description('Primary location for all resources & Flex Consumption Function App')
param location string = resourceGroup().location
param tags object = {}
param applicationInsightsName string
param appServicePlanId string
@description('The app\'s own settings (shared/platform/config.py); the host\'s are added here.')
param appSettings object = {}
param runtimeName string
param runtimeVersion string
param serviceName string = 'api'
param storageAccountName string
param deploymentStorageContainerName string
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 100
@description('Resource id of the user-assigned identity the app runs as.')
param identityId string
@description('Its client id: DefaultAzureCredential and the Functions host pick the identity by it.')
param identityClientId string

param enableEntraAuth bool = false
param entraClientId string = ''
param entraTenantId string = ''
@description('Accepted audiences, comma-separated.')
param entraAudiences string = ''

var kind = 'functionapp,linux'

resource stg 'Microsoft.Storage/storageAccounts@2022-09-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Identity-based connections only, all with the user-assigned identity: host storage (blobs: timer leases
// and keys; the host needs no queue here), Table storage and Graph (AZURE_CLIENT_ID, read by
// shared/platform/identity.py), and Application Insights (local auth off).
var baseAppSettings = {
  AzureWebJobsStorage__blobServiceUri: stg.properties.primaryEndpoints.blob
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  TABLES_ENDPOINT: stg.properties.primaryEndpoints.table
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
}

// Create a Flex Consumption Function App to host the API
module api 'br/public:avm/res/web/site:0.15.1' = {
  name: '${serviceName}-flex-consumption'
  params: {
    kind: kind
    name: name
    location: location
    tags: union(tags, { 'azd-service-name': serviceName })
    serverFarmResourceId: appServicePlanId
    managedIdentities: {
      userAssignedResourceIds: [
        identityId
      ]
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${stg.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
      }
      runtime: {
        name: runtimeName
        version: runtimeVersion
      }
    }
    siteConfig: {
      alwaysOn: false
    }
    appSettingsKeyValuePairs: union(appSettings, baseAppSettings)
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: name
}

// App Service Authentication: the Microsoft provider validates the token (issuer = the tenant, audience)
// and passes the principal to the app; without a token the answer is 401. The app's anonymous routes
// (health, OpenAPI description) stay reachable, as in function-key mode.
resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = if (enableEntraAuth) {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: true
      unauthenticatedClientAction: 'Return401'
      excludedPaths: [
        '/api/health'
        '/api/openapi.json'
      ]
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: entraClientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${entraTenantId}/v2.0'
        }
        validation: {
          allowedAudiences: filter(map(split(entraAudiences, ','), a => trim(a)), a => !empty(a))
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
    httpSettings: {
      requireHttps: true
    }
  }
  dependsOn: [
    api
  ]
}

output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = 'https://${api.outputs.defaultHostname}'
