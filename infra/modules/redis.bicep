// Azure Managed Redis (Microsoft.Cache/redisEnterprise) with its `default` database: TLS 1.2 only,
// Microsoft Entra ID only (access keys disabled), and access policy assignments made one at a time.
param name string
param location string
param tags object

@description('AMR SKU, e.g. Balanced_B1')
param skuName string

@description('Replicate to a second node; cannot be turned off later')
param highAvailability bool

@description('OSSCluster (Redis Cluster API, default), EnterpriseCluster (single endpoint) or NoCluster')
@allowed(['OSSCluster', 'EnterpriseCluster', 'NoCluster'])
param clusteringPolicy string

@description('What Redis does when memory is full; NoEviction keeps carts from being silently evicted')
param evictionPolicy string

@description('none, aof (append-only file, fsync every second) or rdb (snapshot every hour)')
@allowed(['none', 'aof', 'rdb'])
param persistence string

param publicNetworkAccess bool

@description('Log Analytics workspace receiving the cluster metrics and the database connection logs')
param workspaceId string

@description('Object id of the Function App managed identity')
param appPrincipalId string

@description('Object id of the deploying principal (for Redis Insight); empty to skip')
param userPrincipalId string

var persistenceSettings = {
  none: { aofEnabled: false, rdbEnabled: false }
  aof: { aofEnabled: true, aofFrequency: '1s', rdbEnabled: false }
  rdb: { aofEnabled: false, rdbEnabled: true, rdbFrequency: '1h' }
}

resource cluster 'Microsoft.Cache/redisEnterprise@2026-09-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName }
  properties: {
    minimumTlsVersion: '1.2'
    highAvailability: highAvailability ? 'Enabled' : 'Disabled'
    publicNetworkAccess: publicNetworkAccess ? 'Enabled' : 'Disabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2026-09-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: clusteringPolicy
    evictionPolicy: evictionPolicy
    accessKeysAuthentication: 'Disabled'
    persistence: persistenceSettings[persistence]
  }
}

// 2016-09-01, the one stable version, is the legacy schema without categoryGroup.
#disable-next-line use-recent-api-versions
resource clusterDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: cluster
  properties: {
    workspaceId: workspaceId
    metrics: [{ category: 'AllMetrics', enabled: true }]
  }
}

#disable-next-line use-recent-api-versions
resource databaseDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'to-log-analytics'
  scope: database
  properties: {
    workspaceId: workspaceId
    logs: [{ categoryGroup: 'allLogs', enabled: true }]
  }
}

// Assignment names allow only letters and digits, so the object id's hyphens are removed.
resource appAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2026-09-01' = {
  parent: database
  name: take(replace(appPrincipalId, '-', ''), 60)
  properties: {
    accessPolicyName: 'default'
    user: { objectId: appPrincipalId }
  }
}

// Created after the app's assignment: parallel assignments on one database fail deployments.
resource userAccess 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments@2026-09-01' = if (!empty(userPrincipalId)) {
  parent: database
  name: take(replace(userPrincipalId, '-', ''), 60)
  properties: {
    accessPolicyName: 'default'
    user: { objectId: userPrincipalId }
  }
  dependsOn: [appAccess]
}

output id string = cluster.id
output hostName string = cluster.properties.hostName
output port int = database.properties.port!
output clusteringPolicy string = clusteringPolicy
