// `npm run lint:infra`: lints every .bicep file (zero errors and zero warnings) and compiles
// infra/main.bicep to .tmp/infra/main.json. Uses `bicep` from PATH, else `az bicep`, else fetches the
// Bicep CLI from the NuGet package Azure.Bicep.CommandLine.linux-x64 with the .NET SDK into .tools/.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');
const BICEP_VERSION = '0.49.2';
const OUT = join(ROOT, '.tmp', 'infra');

type Cli = (args: string[]) => { status: number; output: string };

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
    throw new Error('install the Bicep CLI (or the Azure CLI) and run this again');
  if (!works('dotnet', ['--version']))
    throw new Error('no bicep, az or dotnet on PATH: install one of them to lint the templates');
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

function resolveCli(): Cli {
  if (works('bicep', ['--version'])) return (args) => run('bicep', args);
  if (works('az', ['bicep', 'version'])) {
    // az spells the file argument as --file.
    return ([verb = '', file = '', ...rest]) => run('az', ['bicep', verb, '--file', file, ...rest]);
  }
  const bin = fetchFromNuGet();
  return (args) => run(bin, args);
}

function bicepFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? bicepFiles(join(dir, e.name)) : e.name.endsWith('.bicep') ? [join(dir, e.name)] : [],
  );
}

const cli = resolveCli();
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
process.exit(failed ? 1 : 0);
