// Checks the compiled ARM template and the evaluated snapshots of three parameter sets (npm run lint:infra
// writes them) for what the deployment promises.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

interface Resource {
  type: string;
  name: string;
  dependsOn?: string[];
  condition?: unknown;
  properties?: Record<string, any>;
  [k: string]: unknown;
}
interface Template {
  parameters?: Record<string, { defaultValue?: unknown }>;
  variables?: Record<string, unknown>;
  outputs?: Record<string, { value: unknown }>;
  resources: Record<string, Resource> | Resource[];
}

interface Snapshot {
  predictedResources: Resource[];
  diagnostics: unknown[];
}
type Variant = 'default' | 'private' | 'pipeline';

const OUT = join(import.meta.dirname, '..', '..', '.tmp', 'infra');
const FILE = join(OUT, 'main.json');
// lintInfra.ts evaluates the snapshots with this made-up deployer object id.
const DEPLOYER = '00000000-0000-0000-0000-0000000000cc';
let main: Template;
const snapshots = {} as Record<Variant, Snapshot>;

const list = (t: Template): Resource[] =>
  Array.isArray(t.resources) ? t.resources : Object.values(t.resources);
const moduleNamed = (name: string): { deployment: Resource; template: Template } => {
  const deployment = list(main).find(
    (r) => r.type === 'Microsoft.Resources/deployments' && r.name.startsWith(`[format('${name}-`),
  );
  if (!deployment) throw new Error(`module ${name} not found`);
  return { deployment, template: deployment.properties?.template as Template };
};
const ofType = (t: Template, type: string) => list(t).filter((r) => r.type === type);
const param = (deployment: Resource, name: string): unknown =>
  deployment.properties?.parameters?.[name]?.value;

/**
 * Runs the Bicep lint (which writes what these tests read) when its outputs are missing or older than a
 * template, so that `npm test` and a run of this file alone work; the reason when it skipped (no Bicep CLI).
 */
function lintedInfra(): string | undefined {
  const infra = join(import.meta.dirname, '..', '..', 'infra');
  const newest = Math.max(
    ...readdirSync(infra, { recursive: true, encoding: 'utf8' }).map((f) => statSync(join(infra, f)).mtimeMs),
  );
  if (!existsSync(FILE) || statSync(FILE).mtimeMs < newest) {
    const lint = spawnSync(process.execPath, [join(OUT, '..', '..', 'dist', 'scripts', 'lintInfra.js')], {
      encoding: 'utf8',
    });
    if (lint.status !== 0) throw new Error(`npm run lint:infra failed:\n${lint.stdout}${lint.stderr}`);
  }
  const skipped = join(OUT, 'skipped');
  return existsSync(skipped) ? readFileSync(skipped, 'utf8').trim() : undefined;
}

const skipped = lintedInfra();
if (skipped) console.log(`infra tests skipped: ${skipped}`);

beforeAll(() => {
  if (skipped) return;
  main = JSON.parse(readFileSync(FILE, 'utf8')) as Template;
  for (const v of ['default', 'private', 'pipeline'] as const)
    snapshots[v] = JSON.parse(readFileSync(join(OUT, `${v}.snapshot.json`), 'utf8')) as Snapshot;
});

/** Resources of a type in an evaluated snapshot. */
const deployed = (v: Variant, type: string): Resource[] =>
  snapshots[v].predictedResources.filter((r) => r.type === type);
const one = (v: Variant, type: string): Resource => {
  const [r, ...rest] = deployed(v, type);
  if (!r || rest.length > 0) throw new Error(`expected one ${type} in the ${v} snapshot`);
  return r;
};
const ROLE = {
  blobOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  queueContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  tableContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  metricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
};
const assignments = (v: Variant) =>
  deployed(v, 'Microsoft.Authorization/roleAssignments').map((r) => ({
    role: String(r.properties?.roleDefinitionId).slice(-36),
    principalId: String(r.properties?.principalId),
    principalType: String(r.properties?.principalType),
  }));
const deployerAssignments = (v: Variant) => assignments(v).filter((a) => a.principalId === DEPLOYER);

describe.skipIf(skipped !== undefined)('infra/main.bicep (compiled)', () => {
  it('provisions AMR with TLS 1.2, encrypted client protocol on port 10000 and access keys disabled', () => {
    const { template } = moduleNamed('redis');
    const [cluster] = ofType(template, 'Microsoft.Cache/redisEnterprise');
    expect(cluster?.properties?.minimumTlsVersion).toBe('1.2');
    const [db] = ofType(template, 'Microsoft.Cache/redisEnterprise/databases');
    expect(db?.name).toMatch(/'default'/);
    expect(db?.properties).toMatchObject({
      clientProtocol: 'Encrypted',
      port: 10000,
      accessKeysAuthentication: 'Disabled',
    });
  });

  it('defaults to NoEviction and the OSS clustering policy', () => {
    expect(main.parameters?.redisEvictionPolicy?.defaultValue).toBe('NoEviction');
    expect(main.parameters?.redisClusteringPolicy?.defaultValue).toBe('OSSCluster');
    const { deployment } = moduleNamed('redis');
    expect(param(deployment, 'evictionPolicy')).toBe("[parameters('redisEvictionPolicy')]");
    expect(param(deployment, 'clusteringPolicy')).toBe("[parameters('redisClusteringPolicy')]");
  });

  it('derives the app cluster setting from the same clustering parameter that creates the database', () => {
    const redis = moduleNamed('redis');
    expect(redis.template.outputs?.clusteringPolicy?.value).toBe("[parameters('clusteringPolicy')]");
    const app = moduleNamed('app');
    expect(String(param(app.deployment, 'redisClusteringPolicy'))).toContain(
      'outputs.clusteringPolicy.value',
    );
    const [settings] = ofType(app.template, 'Microsoft.Web/sites/config');
    expect(settings?.properties?.REDIS_CLUSTER).toBe(
      "[if(equals(parameters('redisClusteringPolicy'), 'OSSCluster'), 'true', 'false')]",
    );
    expect(settings?.properties).toMatchObject({
      REDIS_AUTH: 'entra',
      REDIS_PORT: "[string(parameters('redisPort'))]",
    });
    expect(settings?.properties?.REDIS_HOST).toBe("[parameters('redisHostName')]");
    expect(settings?.properties?.AZURE_CLIENT_ID).toBe("[parameters('identityClientId')]");
  });

  it('assigns Redis access policies one after another, with names free of hyphens', () => {
    const { template } = moduleNamed('redis');
    const assignments = ofType(template, 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments');
    expect(assignments).toHaveLength(2);
    for (const a of assignments) {
      expect(a.properties?.accessPolicyName).toBe('default');
      expect(a.name).toMatch(/replace\(parameters\('(app|user)PrincipalId'\), '-', ''\)/);
    }
    const [app, user] = assignments;
    expect(user?.condition).toBeDefined();
    expect(
      user?.dependsOn?.some((d) => d.includes('accessPolicyAssignments') && d.includes('appPrincipalId')),
    ).toBe(true);
    expect(app?.dependsOn?.some((d) => d.includes('accessPolicyAssignments')) ?? false).toBe(false);
  });

  it('runs the app on Flex Consumption, Linux, Node 22 by default, as a user-assigned identity', () => {
    expect(main.parameters?.nodeVersion?.defaultValue).toBe('22');
    const { template } = moduleNamed('app');
    const [plan] = ofType(template, 'Microsoft.Web/serverfarms');
    expect(plan?.sku).toEqual({ name: 'FC1', tier: 'FlexConsumption' });
    const [site] = ofType(template, 'Microsoft.Web/sites');
    expect(site?.kind).toBe('functionapp,linux');
    expect((site?.identity as { type: string }).type).toBe('UserAssigned');
    expect(site?.properties?.functionAppConfig?.runtime).toEqual({
      name: 'node',
      version: "[parameters('nodeVersion')]",
    });
    expect(site?.properties?.functionAppConfig?.deployment?.storage?.authentication?.type).toBe(
      'UserAssignedIdentity',
    );
    expect(String(site?.tags)).toContain('azd-service-name');
  });

  it('uses identity-based host storage, including the queue service the trigger needs', () => {
    const { template } = moduleNamed('app');
    const [settings] = ofType(template, 'Microsoft.Web/sites/config');
    const s = settings?.properties ?? {};
    expect(s.AzureWebJobsStorage__credential).toBe('managedidentity');
    expect(s.AzureWebJobsStorage__clientId).toBeDefined();
    expect(s.AzureWebJobsStorage__blobServiceUri).toBeDefined();
    expect(s.AzureWebJobsStorage__queueServiceUri).toBeDefined();
    expect(s.AzureWebJobsStorage).toBeUndefined();
    for (const rejected of [
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_CONTENTSHARE',
    ]) {
      expect(s[rejected]).toBeUndefined();
    }
  });

  it('locks storage to identities and TLS 1.2 and creates the loader queue and its poison queue', () => {
    const { deployment, template } = moduleNamed('storage');
    const [account] = ofType(template, 'Microsoft.Storage/storageAccounts');
    expect(account?.properties).toMatchObject({ allowSharedKeyAccess: false, minimumTlsVersion: 'TLS1_2' });
    expect(param(deployment, 'queueNames')).toEqual([
      "[variables('biglistQueue')]",
      "[format('{0}-poison', variables('biglistQueue'))]",
    ]);
    expect(main.variables?.biglistQueue).toBe('biglist-segments');
    const [ai] = ofType(moduleNamed('monitoring').template, 'Microsoft.Insights/components');
    expect(ai?.properties?.DisableLocalAuth).toBe(true);
  });

  it('grants the app Storage Blob Data Owner, Storage Queue Data Contributor and Monitoring Metrics Publisher', () => {
    const { template } = moduleNamed('rbac');
    const roles = JSON.stringify(template.variables);
    for (const id of [
      'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
      '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
      '3913510d-42f4-4e42-8a64-420c390055eb',
    ]) {
      expect(roles).toContain(id);
    }
    expect(ofType(template, 'Microsoft.Authorization/roleAssignments').length).toBeGreaterThanOrEqual(3);
  });

  it('puts no secret in any output, setting or parameter default', () => {
    const text = readFileSync(FILE, 'utf8');
    expect(text).not.toMatch(/listKeys|listConnectionStrings|AccountKey=|SharedAccessSignature|password/i);
    const outputs = Object.keys(main.outputs ?? {});
    expect(outputs.filter((o) => /key|secret|password|connection/i.test(o))).toEqual([]);
    for (const p of Object.values(main.parameters ?? {}))
      expect(JSON.stringify(p.defaultValue ?? '')).not.toMatch(/key|secret|password/i);
  });

  it('evaluates every variant with no diagnostics, and the private one adds only network resources', () => {
    for (const v of ['default', 'private', 'pipeline'] as const) expect(snapshots[v].diagnostics).toEqual([]);
    const types = (v: Variant) => new Set(snapshots[v].predictedResources.map((r) => r.type));
    const added = [...types('private')].filter((t) => !types('default').has(t));
    expect(added.sort()).toEqual([
      'Microsoft.Network/privateDnsZones',
      'Microsoft.Network/privateDnsZones/virtualNetworkLinks',
      'Microsoft.Network/privateEndpoints',
      'Microsoft.Network/privateEndpoints/privateDnsZoneGroups',
      'Microsoft.Network/virtualNetworks',
    ]);
    expect(deployed('default', 'Microsoft.Network/privateEndpoints')).toEqual([]);
  });

  it('gives the deployer roles of the principal type azd reports: User by default, ServicePrincipal in a pipeline', () => {
    expect(main.parameters?.principalType?.defaultValue).toBe('User');
    const mine = deployerAssignments('default');
    expect(mine.map((a) => a.role).sort()).toEqual([ROLE.blobOwner, ROLE.queueContributor].sort());
    expect(mine.every((a) => a.principalType === 'User')).toBe(true);
    const pipeline = deployerAssignments('pipeline');
    expect(pipeline).toHaveLength(2);
    expect(pipeline.every((a) => a.principalType === 'ServicePrincipal')).toBe(true);
    const params = JSON.parse(
      readFileSync(join(OUT, '..', '..', 'infra', 'main.parameters.json'), 'utf8'),
    ) as {
      parameters: Record<string, { value: string }>;
    };
    expect(params.parameters.principalType?.value).toBe('${AZURE_PRINCIPAL_TYPE=User}');
  });

  it('grants the deployer no data access when grantDeployerDataAccess is off', () => {
    expect(main.parameters?.grantDeployerDataAccess?.defaultValue).toBe(true);
    expect(deployerAssignments('private')).toEqual([]);
    const policies = (v: Variant) =>
      deployed(v, 'Microsoft.Cache/redisEnterprise/databases/accessPolicyAssignments').map((r) =>
        JSON.stringify(r.properties?.user),
      );
    expect(policies('default').filter((u) => u.includes(DEPLOYER))).toHaveLength(1);
    expect(policies('private')).toHaveLength(1);
    expect(policies('private').filter((u) => u.includes(DEPLOYER))).toEqual([]);
  });

  it('turns FTP and SCM basic authentication off', () => {
    const policies = deployed('default', 'Microsoft.Web/sites/basicPublishingCredentialsPolicies');
    expect(policies.map((p) => p.name.split('/').pop()).sort()).toEqual(['ftp', 'scm']);
    for (const p of policies) expect(p.properties).toEqual({ allow: false });
    expect(one('default', 'Microsoft.Web/sites').properties?.siteConfig?.ftpsState).toBe('Disabled');
  });

  it('closes storage to the internet with private networking and reaches blob, queue and table privately', () => {
    const open = one('default', 'Microsoft.Storage/storageAccounts').properties;
    expect(open?.publicNetworkAccess).toBe('Enabled');
    const closed = one('private', 'Microsoft.Storage/storageAccounts').properties;
    expect(closed?.publicNetworkAccess).toBe('Disabled');
    expect(closed?.networkAcls).toEqual({ bypass: 'None', defaultAction: 'Deny' });
    const groups = deployed('private', 'Microsoft.Network/privateEndpoints').map((e) => ({
      target: String(e.properties?.privateLinkServiceConnections?.[0]?.properties?.privateLinkServiceId),
      group: String(e.properties?.privateLinkServiceConnections?.[0]?.properties?.groupIds?.[0]),
    }));
    expect(groups.map((g) => g.group).sort()).toEqual(['blob', 'queue', 'redisEnterprise', 'table']);
    const zones = deployed('private', 'Microsoft.Network/privateDnsZones').map((z) => z.name);
    expect(zones).toContain('privatelink.redis.azure.net');
    for (const service of ['blob', 'queue', 'table'])
      expect(
        zones.some((z) => z.includes(`privatelink.{0}.{1}', '${service}', environment().suffixes.storage`)),
      ).toBe(true);
    expect(deployed('private', 'Microsoft.Network/privateDnsZones/virtualNetworkLinks')).toHaveLength(4);
    expect(deployed('private', 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups')).toHaveLength(4);
    expect(one('private', 'Microsoft.Cache/redisEnterprise').properties?.publicNetworkAccess).toBe(
      'Disabled',
    );
    expect(String(one('private', 'Microsoft.Web/sites').properties?.virtualNetworkSubnetId)).toContain(
      'appSubnetId',
    );
    expect(one('default', 'Microsoft.Web/sites').properties?.virtualNetworkSubnetId).toBeNull();
  });

  it('grants the app the table role the host uses for the table endpoint it is given', () => {
    const [settings] = ofType(moduleNamed('app').template, 'Microsoft.Web/sites/config');
    expect(settings?.properties?.AzureWebJobsStorage__tableServiceUri).toBeDefined();
    const app = assignments('default').filter((a) => a.principalType === 'ServicePrincipal');
    expect(app.map((a) => a.role).sort()).toEqual(Object.values(ROLE).sort());
  });

  it('bounds instances from 1, allows only Flex Node versions, AMR sizes and Flex regions with azd metadata', () => {
    const p = main.parameters as Record<string, Record<string, unknown>>;
    expect(p.maximumInstanceCount).toMatchObject({ minValue: 1, maxValue: 1000, defaultValue: 100 });
    expect(p.nodeVersion?.allowedValues).toEqual(['22']);
    const skus = p.redisSku?.allowedValues as string[];
    expect(skus).toContain('Balanced_B0');
    expect(
      skus.every((s) => /^(Balanced_B|MemoryOptimized_M|ComputeOptimized_X|FlashOptimized_A)\d+$/.test(s)),
    ).toBe(true);
    expect(p.location?.metadata).toMatchObject({ azd: { type: 'location' } });
    expect(p.location?.allowedValues).toEqual(
      expect.arrayContaining(['swedencentral', 'eastus2', 'westeurope']),
    );
    expect(
      one('default', 'Microsoft.Web/sites').properties?.functionAppConfig?.scaleAndConcurrency,
    ).toMatchObject({
      maximumInstanceCount: 100,
      instanceMemoryMB: 2048,
    });
  });

  it('takes every operational switch from the azd environment with its default', () => {
    const params = JSON.parse(
      readFileSync(join(OUT, '..', '..', 'infra', 'main.parameters.json'), 'utf8'),
    ) as {
      parameters: Record<string, { value: string }>;
    };
    const values = Object.fromEntries(Object.entries(params.parameters).map(([k, v]) => [k, v.value]));
    expect(values).toMatchObject({
      enablePrivateNetworking: '${ENABLE_PRIVATE_NETWORKING=false}',
      redisHighAvailability: '${REDIS_HIGH_AVAILABILITY=true}',
      grantDeployerDataAccess: '${GRANT_DEPLOYER_DATA_ACCESS=true}',
      redisPersistence: '${REDIS_PERSISTENCE=none}',
      maximumInstanceCount: '${MAXIMUM_INSTANCE_COUNT=100}',
    });
    for (const name of Object.keys(values)) expect(main.parameters?.[name]).toBeDefined();
    const azure = readFileSync(join(OUT, '..', '..', 'azure.yaml'), 'utf8');
    expect(azure).toMatch(/^ {4}remoteBuild: true$/m);
  });

  it('sends AMR, app and storage diagnostics to the workspace, whose local auth is off, and persists when asked', () => {
    const workspace = one('default', 'Microsoft.OperationalInsights/workspaces');
    expect(workspace.properties?.features).toEqual({ disableLocalAuth: true });
    const scopes = deployed('default', 'Microsoft.Insights/diagnosticSettings').map((d) => String(d.id));
    for (const target of [
      /redisEnterprise\/[^/]+\/providers/,
      /redisEnterprise\/[^/]+\/databases\/default\/providers/,
      /sites\/[^/]+\/providers/,
      /storageAccounts\/[^/]+\/providers/,
      /blobServices\/default\/providers/,
      /queueServices\/default\/providers/,
      /tableServices\/default\/providers/,
    ])
      expect(scopes.filter((s) => target.test(s))).toHaveLength(1);
    for (const d of deployed('default', 'Microsoft.Insights/diagnosticSettings'))
      expect(String(d.properties?.workspaceId)).toContain('workspaceId');
    const persistence = (v: Variant) =>
      one(v, 'Microsoft.Cache/redisEnterprise/databases').properties?.persistence as Record<string, unknown>;
    expect(persistence('default')).toEqual({ aofEnabled: false, rdbEnabled: false });
    expect(persistence('private')).toEqual({ aofEnabled: true, aofFrequency: '1s', rdbEnabled: false });
  });

  it('resolves parameter defaults through the module that receives them', () => {
    const db = one('default', 'Microsoft.Cache/redisEnterprise/databases').properties;
    expect(db).toMatchObject({ clusteringPolicy: 'OSSCluster', evictionPolicy: 'NoEviction', port: 10000 });
    expect(one('default', 'Microsoft.Cache/redisEnterprise')).toMatchObject({
      sku: { name: 'Balanced_B1' },
      properties: { highAvailability: 'Enabled', publicNetworkAccess: 'Enabled', minimumTlsVersion: '1.2' },
    });
    const settings = one('default', 'Microsoft.Web/sites/config').properties ?? {};
    // Module outputs stay expressions in a snapshot: the setting reads the database's clustering policy.
    expect(String(settings.REDIS_CLUSTER)).toContain("outputs.clusteringPolicy.value, 'OSSCluster'");
    expect(settings.REDIS_AUTH).toBe('entra');
    expect(one('default', 'Microsoft.Web/sites').properties?.functionAppConfig?.runtime).toEqual({
      name: 'node',
      version: '22',
    });
  });

  it('sets the sign-in issuer and audience only when given, as plain settings', () => {
    const off = one('default', 'Microsoft.Web/sites/config').properties ?? {};
    // Empty is unset for the app: sign-in off.
    expect([off.AUTH_ISSUER, off.AUTH_AUDIENCE]).toEqual(['', '']);
    const on = one('pipeline', 'Microsoft.Web/sites/config').properties ?? {};
    expect(on).toMatchObject({
      AUTH_ISSUER: 'https://contoso.ciamlogin.com/00000000-0000-0000-0000-0000000000bb/v2.0',
      AUTH_AUDIENCE: 'api://cart',
    });
  });

  it('configures the worker telemetry for Application Insights with the managed identity and no secret', () => {
    const settings = one('default', 'Microsoft.Web/sites/config').properties ?? {};
    expect(String(settings.APPLICATIONINSIGHTS_CONNECTION_STRING)).toContain(
      'outputs.connectionString.value',
    );
    expect(String(settings.APPLICATIONINSIGHTS_AUTHENTICATION_STRING)).toMatch(
      /ClientId=.*;Authorization=AAD/,
    );
    expect(settings).toMatchObject({
      OTEL_SERVICE_NAME: 'azure-redis-cart',
      OTEL_TRACES_SAMPLER_ARG: '1',
      NODE_OPTIONS: '--experimental-async-context-frame',
    });
    expect(JSON.stringify(settings)).not.toMatch(/InstrumentationKey=|listKeys/);
    const [ai] = ofType(moduleNamed('monitoring').template, 'Microsoft.Insights/components');
    expect(ai?.properties?.DisableLocalAuth).toBe(true);
    expect(assignments('default').some((a) => a.role === ROLE.metricsPublisher)).toBe(true);
    const host = JSON.parse(readFileSync(join(OUT, '..', '..', 'host.json'), 'utf8')) as {
      telemetryMode?: string;
    };
    expect(host.telemetryMode).toBe('OpenTelemetry');
  });
});
