// Shopping cart on Azure Functions (Flex Consumption) + Azure Managed Redis, deployable with `azd up`.
targetScope = 'subscription'

@minLength(1)
@maxLength(40)
@description('azd environment name; names and tags every resource')
param environmentName string

// Regions offering Flex Consumption (the list of the official Flex Consumption azd quickstart, without its
// canary region); AMR is offered in each, though not every size everywhere: see docs/deploying.md.
@minLength(1)
@description('Azure region for every resource')
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
@metadata({ azd: { type: 'location' } })
param location string

@description('Object id of the deploying principal (azd fills it in); gets data access only with grantDeployerDataAccess')
param principalId string = ''

@description('Kind of the deploying principal: User when signed in interactively, ServicePrincipal in a CI pipeline')
@allowed(['User', 'ServicePrincipal', 'Group'])
param principalType string = 'User'

@description('Give the deploying principal Redis and storage data access (Redis Insight, local runs); on for development, off for production')
param grantDeployerDataAccess bool = true

@description('Azure Managed Redis SKU (Balanced_B0 is the smallest; see docs/deploying.md for sizes and cost)')
@allowed([
  'Balanced_B0'
  'Balanced_B1'
  'Balanced_B3'
  'Balanced_B5'
  'Balanced_B10'
  'Balanced_B20'
  'Balanced_B50'
  'Balanced_B100'
  'Balanced_B150'
  'Balanced_B250'
  'Balanced_B350'
  'Balanced_B500'
  'Balanced_B700'
  'Balanced_B1000'
  'MemoryOptimized_M10'
  'MemoryOptimized_M20'
  'MemoryOptimized_M50'
  'MemoryOptimized_M100'
  'MemoryOptimized_M150'
  'MemoryOptimized_M250'
  'MemoryOptimized_M350'
  'MemoryOptimized_M500'
  'MemoryOptimized_M700'
  'MemoryOptimized_M1000'
  'MemoryOptimized_M1500'
  'MemoryOptimized_M2000'
  'ComputeOptimized_X3'
  'ComputeOptimized_X5'
  'ComputeOptimized_X10'
  'ComputeOptimized_X20'
  'ComputeOptimized_X50'
  'ComputeOptimized_X100'
  'ComputeOptimized_X150'
  'ComputeOptimized_X250'
  'ComputeOptimized_X350'
  'ComputeOptimized_X500'
  'ComputeOptimized_X700'
  'FlashOptimized_A250'
  'FlashOptimized_A500'
  'FlashOptimized_A700'
  'FlashOptimized_A1000'
  'FlashOptimized_A1500'
  'FlashOptimized_A2000'
  'FlashOptimized_A4500'
])
param redisSku string = 'Balanced_B1'

@description('Replicate Redis for the availability SLA; roughly doubles its cost; cannot be turned off later')
param redisHighAvailability bool = true

@description('OSSCluster needs a cluster-aware client (the app switches automatically); fixed at creation')
@allowed(['OSSCluster', 'EnterpriseCluster', 'NoCluster'])
param redisClusteringPolicy string = 'OSSCluster'

@description('Eviction policy; NoEviction keeps carts (which have TTLs) from being evicted under memory pressure')
@allowed(['NoEviction', 'AllKeysLRU', 'AllKeysLFU', 'AllKeysRandom', 'VolatileLRU', 'VolatileLFU', 'VolatileRandom', 'VolatileTTL'])
param redisEvictionPolicy string = 'NoEviction'

@description('Redis persistence: none (a cache; carts are lost with the data), aof (every second) or rdb (snapshot every hour)')
@allowed(['none', 'aof', 'rdb'])
param redisPersistence string = 'none'

@description('Node.js version of the Function App (the versions Flex Consumption lists for Node.js)')
@allowed(['22'])
param nodeVersion string = '22'

@description('Upper bound on Flex Consumption instances; each holds its own Redis connections (see docs/deploying.md)')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Memory per Flex Consumption instance')
@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

@description('Share of successful request traces sent to Application Insights, 0 to 1 (failed ones are always sent)')
param traceSampleRatio string = '1'

@description('Sign-in: the OpenID issuer whose access tokens the app accepts (Microsoft Entra External ID: the tenant\'s issuer from its /.well-known/openid-configuration); empty turns sign-in off')
param authIssuer string = ''

@description('Sign-in: the audience the access tokens must name (the API app registration\'s Application ID URI or client id)')
param authAudience string = ''

@description('Sign-in: the storefront\'s SPA app registration (client id); empty: the page does not sign in')
param authClientId string = ''

@description('Sign-in: the scopes the storefront asks for, space-separated (e.g. api://<api app id>/Cart.Shop)')
param authScopes string = ''

@description('Put Redis and storage behind private endpoints in a VNet the app is integrated with, and close their public access')
param enablePrivateNetworking bool = false

var token = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var biglistQueue = 'biglist-segments'

resource rg 'Microsoft.Resources/resourceGroups@2025-04-01' = {
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
    allowPublicNetworkAccess: !enablePrivateNetworking
    workspaceId: monitoring.outputs.workspaceId
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
    persistence: redisPersistence
    publicNetworkAccess: !enablePrivateNetworking
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: grantDeployerDataAccess ? principalId : ''
    workspaceId: monitoring.outputs.workspaceId
  }
}

module network 'modules/network.bicep' = if (enablePrivateNetworking) {
  scope: rg
  params: {
    name: 'vnet-${token}'
    location: location
    tags: tags
    redisId: redis.outputs.id
    storageId: storage.outputs.id
  }
}

module rbac 'modules/rbac.bicep' = {
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    appPrincipalId: identity.outputs.principalId
    userPrincipalId: grantDeployerDataAccess ? principalId : ''
    userPrincipalType: principalType
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
    traceSampleRatio: traceSampleRatio
    workspaceId: monitoring.outputs.workspaceId
    authIssuer: authIssuer
    authAudience: authAudience
    authClientId: authClientId
    authScopes: authScopes
  }
  // The host reaches storage with the identity's roles: they exist first. (The private endpoints do too:
  // the subnet id above comes from the network module.)
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
