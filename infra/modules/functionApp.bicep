// The Function App on the Flex Consumption plan (FC1, Linux), running as a user-assigned identity, with
// identity-based host storage and Entra-only Redis and Application Insights. No secret in any setting.
param name string
param planName string
param location string
param tags object
param identityId string
param identityClientId string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param appInsightsConnectionString string
param redisHostName string
param redisPort int
param redisClusteringPolicy string
param nodeVersion string
param maximumInstanceCount int
param instanceMemoryMB int
param subnetId string

@description('Share of successful traces kept (0 to 1); failed ones are always kept')
param traceSampleRatio string

@description('Log Analytics workspace receiving the app\'s logs and metrics')
param workspaceId string

@description('Sign-in: the OpenID issuer of shoppers\' access tokens; empty turns sign-in off')
param authIssuer string

@description('Sign-in: the audience those tokens name')
param authAudience string

@description('Sign-in: the storefront\'s SPA app registration (client id), with which the page signs shoppers in through MSAL')
param authClientId string

@description('Sign-in: the scopes the storefront asks for (space-separated); empty: the audience\'s /.default')
param authScopes string

resource plan 'Microsoft.Web/serverfarms@2025-03-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource site 'Microsoft.Web/sites@2025-03-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': 'api' })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: empty(subnetId) ? null : subnetId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: { type: 'UserAssignedIdentity', userAssignedIdentityResourceId: identityId }
        }
      }
      runtime: { name: 'node', version: nodeVersion }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE:
// the runtime and the package location live in functionAppConfig above.
resource settings 'Microsoft.Web/sites/config@2025-03-01' = {
  parent: site
  name: 'appsettings'
  properties: {
    AzureWebJobsStorage__credential: 'managedidentity'
    AzureWebJobsStorage__clientId: identityClientId
    AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
    AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
    AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
    APPLICATIONINSIGHTS_CONNECTION_STRING: appInsightsConnectionString
    APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
    // The worker's OpenTelemetry (shared/telemetry): its service name and the success sampling ratio.
    OTEL_SERVICE_NAME: 'azure-redis-cart'
    OTEL_TRACES_SAMPLER_ARG: traceSampleRatio
    // Node 22 keeps the trace context (AsyncLocalStorage) with promise hooks on every promise unless this
    // flag is on: measured, telemetry costs 30% of the cart handler's throughput without it, 2-4% with it.
    NODE_OPTIONS: '--experimental-async-context-frame'
    AZURE_CLIENT_ID: identityClientId
    REDIS_HOST: redisHostName
    REDIS_PORT: string(redisPort)
    // The same parameter creates the database and tells the app which client to use: they cannot disagree.
    REDIS_CLUSTER: redisClusteringPolicy == 'OSSCluster' ? 'true' : 'false'
    REDIS_AUTH: 'entra'
    // Not secrets: an issuer URL and an audience (the app verifies tokens with the issuer's public keys).
    // Empty (the default) means sign-in off: the app reads an empty setting as unset.
    AUTH_ISSUER: authIssuer
    AUTH_AUDIENCE: authAudience
    AUTH_CLIENT_ID: authClientId
    AUTH_SCOPES: authScopes
  }
}

// No publishing passwords: FTP and SCM basic authentication are off; `azd deploy` and `func azure functionapp
// publish` deploy with a Microsoft Entra token.
resource ftpBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'ftp'
  properties: { allow: false }
}

resource scmBasicAuth 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2025-03-01' = {
  parent: site
  name: 'scm'
  properties: { allow: false }
}

// 2016-09-01, the one stable version, is the legacy schema without categoryGroup.
#disable-next-line use-recent-api-versions
resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: site
  properties: {
    workspaceId: workspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

output name string = site.name
output defaultHostName string = site.properties.defaultHostName
