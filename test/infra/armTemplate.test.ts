// Checks the compiled ARM template (npm run lint:infra writes it) for what the deployment promises.
import { existsSync, readFileSync } from 'node:fs';
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

const FILE = join(import.meta.dirname, '..', '..', '.tmp', 'infra', 'main.json');
let main: Template;

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

beforeAll(() => {
  if (!existsSync(FILE))
    throw new Error(`${FILE} is missing: run npm run lint:infra first (npm run check does)`);
  main = JSON.parse(readFileSync(FILE, 'utf8')) as Template;
});

describe('infra/main.bicep (compiled)', () => {
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
});
