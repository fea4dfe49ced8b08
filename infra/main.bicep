// The presence automation Function App for `azd up`: Flex Consumption (Python 3.11) with a system-assigned
// managed identity, a storage account without shared keys, Application Insights, and the role assignments
// the identity needs. Modelled on Azure-Samples/functions-quickstart-python-http-azd (infra/main.bicep).
// Graph application permissions are granted afterwards (see infra/README.md): Bicep cannot grant them.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the environment, used to generate a short unique hash used in all resources.')
param environmentName string

@minLength(1)
@description('Primary location for all resources & Flex Consumption Function App')
@allowed([
  'australiaeast'
  'australiasoutheast'
  'brazilsouth'
  'canadacentral'
  'centralindia'
  'centralus'
  'eastasia'
  'eastus'
  'eastus2'
  'eastus2euap'
  'francecentral'
  'germanywestcentral'
  'italynorth'
  'japaneast'
  'koreacentral'
  'northcentralus'
  'northeurope'
  'norwayeast'
  'southafricanorth'
  'southcentralus'
  'southeastasia'
  'southindia'
  'spaincentral'
  'swedencentral'
  'uaenorth'
  'uksouth'
  'ukwest'
  'westcentralus'
  'westeurope'
  'westus'
  'westus2'
  'westus3'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

// Optional resource names (empty: generated from the environment).
param apiServiceName string = ''
param applicationInsightsName string = ''
param appServicePlanName string = ''
param logAnalyticsName string = ''
param resourceGroupName string = ''
param storageAccountName string = ''

// ---- Callers: function keys (default) or Entra tokens behind App Service Authentication ----
@description('Turn on App Service Authentication (Microsoft provider, Return401) and CALLER_AUTH=entra.')
param enableEntraAuth bool = false

@description('Client id of the API app registration (required when enableEntraAuth).')
param entraClientId string = ''

@description('The only tenant whose tokens are accepted (empty: this deployment\'s tenant).')
param entraTenantId string = tenant().tenantId

@description('Accepted token audiences, comma-separated (empty: api://<entraClientId> and <entraClientId>).')
param entraAudiences string = ''

// ---- The app's tunables (shared/config.py; the defaults are the code's) ----
@description('Prefix of every table name: 1-40 letters and digits, starting with a letter.')
@minLength(1)
@maxLength(40)
param tablePrefix string = 'presence'

@description('NCRONTAB schedule of the schedules timer.')
param scheduleTick string = '0 */1 * * * *'

@description('NCRONTAB schedule of the renewal timer (keep it every minute).')
param renewTick string = '0 */1 * * * *'

@description('NCRONTAB schedule of the presence watch poll (a change is seen within one tick).')
param watchTick string = '30 */1 * * * *'

@description('Minutes between reads of a watched group\'s members.')
@minValue(5)
@maxValue(1440)
param watchGroupRefreshMinutes int = 60

@description('Hours a watch\'s callback may fail before the watch is disabled.')
@minValue(1)
@maxValue(168)
param watchDisableAfterHours int = 24

@description('Graph calls in flight at once.')
@minValue(1)
@maxValue(64)
param graphConcurrency int = 8

@description('Presence requests the app makes in any 30 seconds, all instances together (Graph budgets presence per app and tenant).')
@minValue(33)
@maxValue(10000)
param graphBudgetPer30s int = 1500

@description('Seconds an HTTP caller waits for the Graph budget before a 429 graphBudgetExhausted.')
@minValue(0)
@maxValue(60)
param graphBudgetWaitSeconds int = 5

@description('Seconds a renew or schedule tick goes on draining due work (the function timeout is 10 minutes).')
@minValue(5)
@maxValue(540)
param tickTimeLimitSeconds int = 240

@description('Attempts before a scheduled change is marked failed.')
@minValue(1)
@maxValue(100)
param maxAttempts int = 5

@description('Longest hold, in days.')
@minValue(1)
@maxValue(30)
param maxHoldDays int = 7

@description('Days audit rows and finished schedules are kept.')
@minValue(1)
@maxValue(3650)
param retentionDays int = 30

@description('Hours a UPN -> object id mapping is trusted (0 turns the cache off).')
@minValue(0)
@maxValue(720)
param userCacheHours int = 24

@description('Optional sessionId (a GUID) for setPresence; empty: the token\'s application id.')
param presenceSessionId string = ''

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = !empty(apiServiceName) ? apiServiceName : 'func-api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var tenantId = !empty(entraTenantId) ? entraTenantId : tenant().tenantId
var audiences = !empty(trim(entraAudiences)) ? entraAudiences : 'api://${entraClientId},${entraClientId}'

// What the code reads (shared/config.py Settings). GRAPH_BASE_URL keeps its default; AZURE_CLIENT_ID stays
// unset (system-assigned identity); WEBSITE_AUTH_ENABLED is App Service's own.
var callerSettings = enableEntraAuth
  ? {
      CALLER_AUTH: 'entra'
      ENTRA_TENANT_ID: tenantId
      ENTRA_AUDIENCES: audiences
    }
  : {
      CALLER_AUTH: 'function-key'
    }
var sessionSettings = !empty(presenceSessionId)
  ? {
      PRESENCE_SESSION_ID: presenceSessionId
    }
  : {}
var appSettings = union(
  {
    TABLE_PREFIX: tablePrefix
    SCHEDULE_TICK: scheduleTick
    RENEW_TICK: renewTick
    WATCH_TICK: watchTick
    WATCH_GROUP_REFRESH_MINUTES: string(watchGroupRefreshMinutes)
    WATCH_DISABLE_AFTER_HOURS: string(watchDisableAfterHours)
    GRAPH_CONCURRENCY: string(graphConcurrency)
    GRAPH_BUDGET_PER_30S: string(graphBudgetPer30s)
    GRAPH_BUDGET_WAIT_SECONDS: string(graphBudgetWaitSeconds)
    TICK_TIME_LIMIT_SECONDS: string(tickTimeLimitSeconds)
    MAX_ATTEMPTS: string(maxAttempts)
    MAX_HOLD_DAYS: string(maxHoldDays)
    RETENTION_DAYS: string(retentionDays)
    USER_CACHE_HOURS: string(userCacheHours)
  },
  callerSettings,
  sessionSettings
)

// Organize resources in a resource group
resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : 'rg-${environmentName}'
  location: location
  tags: tags
}

// Create an App Service Plan to group applications under the same payment plan and SKU
module appServicePlan 'br/public:avm/res/web/serverfarm:0.1.1' = {
  name: 'appserviceplan'
  scope: rg
  params: {
    name: !empty(appServicePlanName) ? appServicePlanName : 'plan-${resourceToken}'
    sku: {
      name: 'FC1'
      tier: 'FlexConsumption'
    }
    reserved: true
    location: location
    tags: tags
  }
}

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.name
    appServicePlanId: appServicePlan.outputs.resourceId
    runtimeName: 'python'
    runtimeVersion: '3.11'
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    appSettings: appSettings
    enableEntraAuth: enableEntraAuth
    entraClientId: entraClientId
    entraTenantId: tenantId
    entraAudiences: audiences
  }
}

// Backing storage: host storage, the deployment package and the app's tables. No shared keys: everything
// reaches it with the Function App's managed identity.
module storage 'br/public:avm/res/storage/storage-account:0.8.3' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : 'st${resourceToken}'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false // Disable local authentication methods as per policy
    dnsEndpointType: 'Standard'
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
    blobServices: {
      containers: [{ name: deploymentStorageContainerName }]
    }
    minimumTlsVersion: 'TLS1_2' // Enforcing TLS 1.2 for better security
    location: location
    tags: tags
  }
}

// Role assignments for the Function App's system-assigned identity
module rbac 'app/rbac.bicep' = {
  name: 'rbacAssignments'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.name
    managedIdentityPrincipalId: api.outputs.SERVICE_API_IDENTITY_PRINCIPAL_ID
  }
}

// Monitor application with Azure Monitor - Log Analytics and Application Insights
module logAnalytics 'br/public:avm/res/operational-insights/workspace:0.7.0' = {
  name: '${uniqueString(deployment().name, location)}-loganalytics'
  scope: rg
  params: {
    name: !empty(logAnalyticsName) ? logAnalyticsName : 'log-${resourceToken}'
    location: location
    tags: tags
    dataRetention: 30
  }
}

module monitoring 'br/public:avm/res/insights/component:0.4.1' = {
  name: '${uniqueString(deployment().name, location)}-appinsights'
  scope: rg
  params: {
    name: !empty(applicationInsightsName) ? applicationInsightsName : 'appi-${resourceToken}'
    location: location
    tags: tags
    workspaceResourceId: logAnalytics.outputs.resourceId
    disableLocalAuth: true
  }
}

// App outputs (azd stores them in .azure/<env>/.env; `azd env get-values` prints them)
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.SERVICE_API_NAME
output AZURE_FUNCTION_NAME string = api.outputs.SERVICE_API_NAME
output AZURE_FUNCTION_URL string = api.outputs.SERVICE_API_URI
@description('Pass to scripts/grant-graph-permissions --principal-id: the identity Graph permissions go to.')
output AZURE_FUNCTION_PRINCIPAL_ID string = api.outputs.SERVICE_API_IDENTITY_PRINCIPAL_ID
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
