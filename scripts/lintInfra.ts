// `npm run lint:infra`: lints every .bicep file (zero errors and zero warnings), compiles infra/main.bicep to
// .tmp/infra/main.json and writes a deployment snapshot (every expression and condition evaluated) for each
// parameter variant below. Uses the pinned Bicep CLI: `bicep` from PATH only when it is that version, else
// the NuGet package Azure.Bicep.CommandLine.linux-x64 fetched with the .NET SDK into .tools/.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BICEP_VERSION = '0.49.2';
const OUT = join(ROOT, '.tmp', 'infra');

// Snapshots evaluate against these made-up ids; the tests read `.tmp/infra/<variant>.snapshot.json`.
const SUBSCRIPTION = '00000000-0000-0000-0000-0000000000aa';
const TENANT = '00000000-0000-0000-0000-0000000000bb';
const DEPLOYER = '00000000-0000-0000-0000-0000000000cc';
const LOCATION = 'swedencentral';
const VARIANTS: Record<string, Record<string, string | boolean>> = {
  // What `azd up` passes for a developer signed in interactively.
  default: {},
  // Private networking, no data access for the deployer, AOF persistence: a production shape.
  private: { enablePrivateNetworking: true, grantDeployerDataAccess: false, redisPersistence: 'aof' },
  // A CI pipeline signed in as a service principal, deploying a development environment.
  pipeline: { principalType: 'ServicePrincipal' },
};

function run(cmd: string, args: string[]): { status: number; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}`.trim() };
}

function works(cmd: string, args: string[]): boolean {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
}

/** Fetches the Bicep CLI binary from NuGet (a restore of a throwaway project) and returns its path. */
function fetchFromNuGet(): string {
  const dir = join(ROOT, '.tools', 'bicep', BICEP_VERSION);
  const bin = join(dir, 'packages', 'azure.bicep.commandline.linux-x64', BICEP_VERSION, 'tools', 'bicep');
  if (existsSync(bin)) return bin;
  if (process.platform !== 'linux' || process.arch !== 'x64')
    throw new Error(`install the Bicep CLI ${BICEP_VERSION} on PATH and run this again`);
  if (!works('dotnet', ['--version']))
    throw new Error(
      `neither Bicep CLI ${BICEP_VERSION} nor the .NET SDK is on PATH: install one to lint the templates`,
    );
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'fetch.csproj'),
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>netstandard2.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[${BICEP_VERSION}]" /></ItemGroup>
</Project>
`,
  );
  console.log(`lint:infra: fetching Bicep CLI ${BICEP_VERSION} from NuGet with the .NET SDK`);
  const r = run('dotnet', [
    'restore',
    join(dir, 'fetch.csproj'),
    '--packages',
    join(dir, 'packages'),
    '--nologo',
    '-v',
    'q',
  ]);
  if (r.status !== 0 || !existsSync(bin))
    throw new Error(`dotnet restore of the Bicep CLI failed:\n${r.output}`);
  chmodSync(bin, 0o755);
  return bin;
}

/** The pinned Bicep CLI: `bicep` from PATH when it reports the pinned version, else the NuGet copy. */
function resolveBicep(): string {
  const onPath = spawnSync('bicep', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.includes(`version ${BICEP_VERSION} `)) return 'bicep';
  return fetchFromNuGet();
}

function paramFile(values: Record<string, string | boolean>): string {
  const all = { environmentName: 'ci', location: LOCATION, principalId: DEPLOYER, ...values };
  const lines = Object.entries(all).map(
    ([k, v]) => `param ${k} = ${typeof v === 'string' ? `'${v}'` : String(v)}`,
  );
  return [`using '../../infra/main.bicep'`, ...lines, ''].join('\n');
}

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );
}

const bicep = resolveBicep();
const cli = (args: string[]) => run(bicep, args);
// Outputs of an earlier run must not stand in for a failed one.
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
let failed = false;
for (const file of bicepFiles(join(ROOT, 'infra')).sort()) {
  const r = cli(['lint', file]);
  const name = relative(ROOT, file);
  // Any diagnostic counts: the templates are kept at zero errors and zero warnings.
  if (r.status !== 0 || r.output !== '') {
    failed = true;
    console.error(`lint:infra: ${name}\n${r.output}`);
  } else {
    console.log(`lint:infra: ${name} ok`);
  }
}
const built = cli(['build', join(ROOT, 'infra', 'main.bicep'), '--outfile', join(OUT, 'main.json')]);
if (built.status !== 0 || built.output !== '') {
  failed = true;
  console.error(`lint:infra: build of infra/main.bicep\n${built.output}`);
} else {
  console.log(`lint:infra: compiled infra/main.bicep -> ${relative(ROOT, join(OUT, 'main.json'))}`);
}
for (const [variant, values] of Object.entries(VARIANTS)) {
  const file = join(OUT, `${variant}.bicepparam`);
  writeFileSync(file, paramFile(values));
  // `snapshot` writes <variant>.snapshot.json beside the parameters file.
  const r = cli([
    'snapshot',
    file,
    '--mode',
    'overwrite',
    '--subscription-id',
    SUBSCRIPTION,
    '--tenant-id',
    TENANT,
    '--location',
    LOCATION,
  ]);
  if (r.status !== 0 || r.output !== '') {
    failed = true;
    console.error(`lint:infra: snapshot of the ${variant} variant\n${r.output}`);
  } else {
    console.log(
      `lint:infra: snapshot of the ${variant} variant -> ${relative(ROOT, join(OUT, `${variant}.snapshot.json`))}`,
    );
  }
}
process.exit(failed ? 1 : 0);
