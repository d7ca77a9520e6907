// Shopping cart on Azure Functions (Flex Consumption) + Azure Managed Redis, deployable with `azd up`.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags every resource')
param environmentName string

@minLength(1)
@description('Azure region for every resource')
param location string

@description('Object id of the deploying user: gets Redis and storage access for Redis Insight and local runs; empty to skip')
param principalId string = ''

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest; see the README for sizes and cost)')
param redisSku string = 'Balanced_B1'

@description('Replicate Redis for the availability SLA; roughly doubles its cost; cannot be turned off later')
param redisHighAvailability bool = true

@description('OSSCluster needs a cluster-aware client (the app switches automatically); fixed at creation')
@allowed(['OSSCluster', 'EnterpriseCluster', 'NoCluster'])
param redisClusteringPolicy string = 'OSSCluster'

@description('Eviction policy; NoEviction keeps carts (which have TTLs) from being evicted under memory pressure')
@allowed(['NoEviction', 'AllKeysLRU', 'AllKeysLFU', 'AllKeysRandom', 'VolatileLRU', 'VolatileLFU', 'VolatileRandom', 'VolatileTTL'])
param redisEvictionPolicy string = 'NoEviction'

@description('Node.js version of the Function App')
@allowed(['22', '24'])
param nodeVersion string = '22'

@description('Upper bound on Flex Consumption instances')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per Flex Consumption instance')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Put Redis behind a private endpoint in a VNet the app is integrated with, and close its public access')
param enablePrivateNetworking bool = false

var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var biglistQueue = 'biglist-segments'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: 'rg-${environmentName}'
  location: location
  tags: tags
}

module identity 'modules/identity.bicep' = {
  scope: rg
  params: { name: 'id-${token}', location: location, tags: tags }
}

module monitoring 'modules/monitoring.bicep' = {
  scope: rg
  params: { logAnalyticsName: 'log-${token}', appInsightsName: 'appi-${token}', location: location, tags: tags }
}

module storage 'modules/storage.bicep' = {
  scope: rg
  params: {
    name: 'st${token}'
    location: location
    tags: tags
    deploymentContainerName: 'app-package'
    queueNames: [biglistQueue, '${biglistQueue}-poison']
    allowPublicNetworkAccess: true
  }
}

module redis 'modules/redis.bicep' = {
  scope: rg
  params: {
    name: 'redis-${token}'
    location: location
    tags: tags
    skuName: redisSku
    highAvailability: redisHighAvailability
    clusteringPolicy: redisClusteringPolicy
    evictionPolicy: redisEvictionPolicy
    publicNetworkAccess: !enablePrivateNetworking
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  scope: rg
  params: { name: 'vnet-${token}', location: location, tags: tags, redisId: redis.outputs.id }
}

module rbac 'modules/rbac.bicep' = {
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
  }
}

module app 'modules/functionApp.bicep' = {
  scope: rg
  params: {
    name: 'func-${token}'
    planName: 'plan-${token}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    appInsightsConnectionString: monitoring.outputs.connectionString
    redisHostName: redis.outputs.hostName
    redisPort: redis.outputs.port
    redisClusteringPolicy: redis.outputs.clusteringPolicy
    nodeVersion: nodeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    subnetId: enablePrivateNetworking ? network!.outputs.appSubnetId : ''
  }
  dependsOn: [rbac]
}

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = app.outputs.name
output FUNCTION_APP_URL string = 'https://${app.outputs.defaultHostName}'
output REDIS_HOST string = redis.outputs.hostName
output REDIS_PORT int = redis.outputs.port
output REDIS_CLUSTER bool = redisClusteringPolicy == 'OSSCluster'
output BIGLIST_QUEUE string = biglistQueue
