// Monitoring of the deployed app: metric alerts on the app's own OpenTelemetry metrics (shared/platform/metrics.py),
// log alerts on what it writes to Application Insights (its log lines and the host's request records), an
// availability test of GET /api/health with its alert, a workbook, and the action group every alert
// notifies. What each alert means and what to do: docs/operations.md.
param location string
param tags object = {}
param applicationInsightsName string
@description('https://<app>/api/health: anonymous in both caller modes, 503 naming the failing check.')
param healthUrl string
@description('Where alerts are e-mailed; empty: no receiver (alerts show in the portal only).')
param alertEmail string = ''
@description('Graph 429s (every one Graph answered, SDK retries included) in 15 minutes that raise the throttling alert.')
param graphThrottleAlertThreshold int = 10
param resourceToken string

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-presence-${resourceToken}'
  location: 'Global'
  tags: tags
  properties: {
    groupShortName: 'presence'
    enabled: true
    emailReceivers: empty(alertEmail)
      ? []
      : [
          {
            name: 'admin'
            emailAddress: alertEmail
            useCommonAlertSchema: true
          }
        ]
  }
}

// The app's own counters (customMetrics, namespace azure.applicationinsights), where one counter is the
// event: exact (metrics are aggregated in the app, never sampled), every minute, no query to run. Each rule
// fires when the counter's total over the window reaches the threshold. Until the app has sent a metric
// it does not exist, hence skipMetricValidation.
var metricAlerts = [
  {
    name: 'schedule-failed-for-good'
    displayName: 'A schedule failed for good'
    severity: 2
    metric: 'presence.schedules.failed_for_good'
    threshold: 1
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
  {
    name: 'watch-disabled'
    displayName: 'A presence watch was disabled'
    severity: 3
    metric: 'presence.watches.disabled'
    threshold: 1
    windowSize: 'PT5M'
    evaluationFrequency: 'PT1M'
  }
  {
    name: 'graph-throttled'
    displayName: 'Graph throttling the app (429)'
    severity: 2
    metric: 'presence.graph.throttles'
    threshold: graphThrottleAlertThreshold
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
]

resource metricAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = [
  for alert in metricAlerts: {
    name: 'alert-${alert.name}-${resourceToken}'
    location: 'global'
    tags: tags
    properties: {
      description: 'What it means and what to do: docs/operations.md, "${alert.name}".'
      severity: alert.severity
      enabled: true
      scopes: [
        applicationInsights.id
      ]
      evaluationFrequency: alert.evaluationFrequency
      windowSize: alert.windowSize
      criteria: {
        'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
        allOf: [
          {
            criterionType: 'StaticThresholdCriterion'
            name: alert.name
            metricNamespace: 'azure.applicationinsights'
            metricName: alert.metric
            timeAggregation: 'Total'
            operator: 'GreaterThanOrEqual'
            threshold: alert.threshold
            skipMetricValidation: true
          }
        ]
      }
      autoMitigate: true
      actions: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
]

// Log alerts where no one counter is the signal: renewals-failing and schedules-failing also count storage
// trouble and ticks that failed outright (warnings and failed requests, not Graph refusals alone), and
// health-failing reads the host's request records, which exist even when the app's code never runs.
// Each query sums itemCount (what sampling kept stands for itemCount records) into `events`; the rule fires
// when the total over the window reaches the threshold.
var logAlerts = [
  {
    name: 'renewals-failing'
    displayName: 'Presence renewals failing'
    severity: 2
    query: loadTextContent('monitoring/renewals-failing.kql')
    threshold: 5
    windowSize: 'PT30M'
    evaluationFrequency: 'PT15M'
  }
  {
    name: 'schedules-failing'
    displayName: 'Schedules failing (may be failed for good)'
    severity: 2
    query: loadTextContent('monitoring/schedules-failing.kql')
    threshold: 5
    windowSize: 'PT1H'
    evaluationFrequency: 'PT15M'
  }
  {
    name: 'health-failing'
    displayName: 'Health check failing'
    severity: 1
    query: loadTextContent('monitoring/health-failing.kql')
    threshold: 3
    windowSize: 'PT15M'
    evaluationFrequency: 'PT5M'
  }
]

resource logAlert 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = [
  for alert in logAlerts: {
    name: 'alert-${alert.name}-${resourceToken}'
    location: location
    tags: tags
    kind: 'LogAlert'
    properties: {
      displayName: alert.displayName
      description: 'What it means and what to do: docs/operations.md, "${alert.name}".'
      severity: alert.severity
      enabled: true
      scopes: [
        applicationInsights.id
      ]
      evaluationFrequency: alert.evaluationFrequency
      windowSize: alert.windowSize
      criteria: {
        allOf: [
          {
            query: alert.query
            timeAggregation: 'Total'
            metricMeasureColumn: 'events'
            operator: 'GreaterThanOrEqual'
            threshold: alert.threshold
            failingPeriods: {
              numberOfEvaluationPeriods: 1
              minFailingPeriodsToAlert: 1
            }
          }
        ]
      }
      autoMitigate: true
      actions: {
        actionGroups: [
          actionGroup.id
        ]
      }
    }
  }
]

// A standard availability test of /api/health every 5 minutes from 5 regions, and its alert: 2 regions
// failing at once. (health-failing above sees the same calls in the app's own request records.)
resource healthTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: 'webtest-health-${resourceToken}'
  location: location
  tags: union(tags, { 'hidden-link:${applicationInsights.id}': 'Resource' })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: 'webtest-health-${resourceToken}'
    Name: 'GET /api/health'
    Description: 'The app answers 200 when storage and Graph answer (docs/operations.md, "health-failing").'
    Enabled: true
    Frequency: 300
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [
      { Id: 'us-va-ash-azr' }
      { Id: 'us-ca-sjc-azr' }
      { Id: 'emea-nl-ams-azr' }
      { Id: 'emea-gb-db3-azr' }
      { Id: 'apac-sg-sin-azr' }
    ]
    Request: {
      RequestUrl: healthUrl
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 7
    }
  }
}

resource healthAvailabilityAlert 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-health-availability-${resourceToken}'
  location: 'global'
  tags: tags
  properties: {
    description: 'GET /api/health failing from 2 or more regions: docs/operations.md, "health-failing".'
    severity: 1
    enabled: true
    scopes: [
      healthTest.id
      applicationInsights.id
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: healthTest.id
      componentId: applicationInsights.id
      failedLocationCount: 2
    }
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// The operations workbook (monitoring/workbook.json): timer outcomes, warnings by function, Graph refusals
// by status, watch deliveries, tick durations and health, from the same records as the alerts.
resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(applicationInsights.id, 'presence-operations-workbook')
  location: location
  tags: tags
  kind: 'shared'
  properties: {
    displayName: 'Presence automation: operations'
    category: 'workbook'
    sourceId: toLower(applicationInsights.id)
    serializedData: loadTextContent('monitoring/workbook.json')
  }
}

output actionGroupId string = actionGroup.id
output workbookId string = workbook.id
