// The presence automation Function App for `azd up`: Flex Consumption (Python 3.11) running as a
// user-assigned managed identity, a storage account without shared keys, Application Insights with alert
// rules, a workbook and an action group, and the role assignments the identity needs. Modelled on
// Azure-Samples/functions-quickstart-python-http-azd (infra/main.bicep). The identity and its roles exist
// before the app, so its first start and the first deploy never wait for a role to appear. Graph application
// permissions are granted afterwards (see infra/README.md): Bicep cannot grant them.
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
param apiUserAssignedIdentityName string = ''
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

// ---- The app's tunables (shared/platform/config.py; the defaults are the code's) ----
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

@description('Least minutes between two starts of a recurring schedule.')
@minValue(1)
@maxValue(1440)
param scheduleMinGapMinutes int = 15

@description('Most starts of a recurring schedule in one day.')
@minValue(1)
@maxValue(1440)
param scheduleMaxPerDay int = 24

@description('Days audit rows and finished schedules are kept.')
@minValue(1)
@maxValue(3650)
param retentionDays int = 30

@description('Hours a UPN -> object id mapping is trusted (0 turns the cache off).')
@minValue(0)
@maxValue(720)
param userCacheHours int = 24

@description('Minutes "no such UPN" is trusted (0: never cached).')
@minValue(0)
@maxValue(1440)
param userCacheMissMinutes int = 5

@description('Schedules still to run per user, whoever makes them.')
@minValue(1)
@maxValue(10000)
param maxSchedulesPerUser int = 100

@description('Watches a signed-in user may have (apps and function keys are not counted).')
@minValue(1)
@maxValue(1000)
param maxWatchesPerUser int = 20

@description('Seconds between two checks of storage and Graph by GET /api/health, whatever the traffic.')
@minValue(5)
@maxValue(3600)
param healthCheckSeconds int = 30

@description('Optional sessionId (a GUID) for setPresence; empty: the token\'s application id.')
param presenceSessionId string = ''

// ---- Monitoring (infra/app/monitoring.bicep; what each alert means: docs/operations.md) ----
@description('Where alerts are e-mailed (the action group\'s receiver); empty: alerts show in the portal only.')
param alertEmail string = ''

@description('Graph 429s (after the SDK\'s retries) in 15 minutes that raise the throttling alert.')
@minValue(1)
param graphThrottleAlertThreshold int = 10

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = !empty(apiServiceName) ? apiServiceName : 'func-api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var tenantId = !empty(entraTenantId) ? entraTenantId : tenant().tenantId
// ENABLE_ENTRA_AUTH=true without ENTRA_CLIENT_ID would deploy App Service Authentication without a client id:
// an app that answers 401 to everyone. fail() stops the deployment with this message instead (ARM evaluates
// it from the parameters alone, before any resource is created); every use of the client id goes through it.
var apiClientId = enableEntraAuth && empty(trim(entraClientId))
  ? fail('ENABLE_ENTRA_AUTH=true needs ENTRA_CLIENT_ID, the client id of the API\'s app registration: azd env set ENTRA_CLIENT_ID <client id>')
  : trim(entraClientId)
var audiences = !empty(trim(entraAudiences)) ? entraAudiences : 'api://${apiClientId},${apiClientId}'

// What the code reads (shared/platform/config.py Settings). GRAPH_BASE_URL keeps its default; AZURE_CLIENT_ID (the
// user-assigned identity) is set in app/api.bicep; WEBSITE_AUTH_ENABLED and WEBSITE_HOSTNAME are App
// Service's own.
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
    SCHEDULE_MIN_GAP_MINUTES: string(scheduleMinGapMinutes)
    SCHEDULE_MAX_PER_DAY: string(scheduleMaxPerDay)
    RETENTION_DAYS: string(retentionDays)
    USER_CACHE_HOURS: string(userCacheHours)
    USER_CACHE_MISS_MINUTES: string(userCacheMissMinutes)
    MAX_SCHEDULES_PER_USER: string(maxSchedulesPerUser)
    MAX_WATCHES_PER_USER: string(maxWatchesPerUser)
    HEALTH_CHECK_SECONDS: string(healthCheckSeconds)
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

// The identity the app runs as (storage, deployment package, Application Insights, Graph), created before
// the app so its role assignments (app/rbac.bicep) exist when the app first starts.
module apiUserAssignedIdentity 'br/public:avm/res/managed-identity/user-assigned-identity:0.4.1' = {
  name: 'apiUserAssignedIdentity'
  scope: rg
  params: {
    location: location
    tags: tags
    name: !empty(apiUserAssignedIdentityName) ? apiUserAssignedIdentityName : 'id-api-${resourceToken}'
  }
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
    identityId: apiUserAssignedIdentity.outputs.resourceId
    identityClientId: apiUserAssignedIdentity.outputs.clientId
    appSettings: appSettings
    enableEntraAuth: enableEntraAuth
    entraClientId: apiClientId
    entraTenantId: tenantId
    entraAudiences: audiences
  }
  // The roles first: the app's first start (host storage) and azd's package upload use them at once.
  dependsOn: [
    rbac
  ]
}

// Backing storage: host storage, the deployment package and the app's tables. No shared keys: everything
// reaches it with the app's user-assigned identity.
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

// Role assignments for the app's user-assigned identity (before the app: see module api's dependsOn)
module rbac 'app/rbac.bicep' = {
  name: 'rbacAssignments'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.name
    managedIdentityPrincipalId: apiUserAssignedIdentity.outputs.principalId
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

// Alert rules, the availability test of /api/health, a workbook and the action group (docs/operations.md)
module alerts 'app/monitoring.bicep' = {
  name: 'monitoringAlerts'
  scope: rg
  params: {
    location: location
    tags: tags
    applicationInsightsName: monitoring.outputs.name
    healthUrl: '${api.outputs.SERVICE_API_URI}/api/health'
    alertEmail: alertEmail
    graphThrottleAlertThreshold: graphThrottleAlertThreshold
    resourceToken: resourceToken
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
output AZURE_FUNCTION_PRINCIPAL_ID string = apiUserAssignedIdentity.outputs.principalId
@description('The same identity by name (scripts/grant-graph-permissions --identity-name).')
output AZURE_FUNCTION_IDENTITY_NAME string = apiUserAssignedIdentity.outputs.name
@description('Its client id: the app\'s AZURE_CLIENT_ID and AzureWebJobsStorage__clientId.')
output AZURE_FUNCTION_CLIENT_ID string = apiUserAssignedIdentity.outputs.clientId
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
