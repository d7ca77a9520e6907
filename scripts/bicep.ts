// The pinned Bicep CLI: `bicep` from PATH when it is that version, else the NuGet package
// Azure.Bicep.CommandLine.linux-x64 restored with the .NET SDK into .tools/. `./scripts/setup.sh` fetches it
// (`node scripts/bicep.ts fetch`), so that `npm run check` needs no network afterwards. Standalone (no
// imports of the project), so that set-up can run it from source before anything is built.
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The Bicep CLI version the templates are linted with. */
export const BICEP_VERSION = '0.49.2';

const ROOT = resolve(import.meta.dirname, import.meta.dirname.includes('/dist/') ? '../..' : '..');
const DIR = join(ROOT, '.tools', 'bicep', BICEP_VERSION);
const NUGET_BIN = join(DIR, 'packages', 'azure.bicep.commandline.linux-x64', BICEP_VERSION, 'tools', 'bicep');

/** The pinned Bicep CLI if it is here already (on PATH, or fetched into .tools/), without any download. */
export function findBicep(): string | undefined {
  const onPath = spawnSync('bicep', ['--version'], { encoding: 'utf8' });
  if (onPath.status === 0 && onPath.stdout.includes(`version ${BICEP_VERSION} `)) return 'bicep';
  return existsSync(NUGET_BIN) ? NUGET_BIN : undefined;
}

/** Why the Bicep CLI cannot be fetched here, or undefined when it can (Linux x64 with the .NET SDK). */
export function cannotFetch(): string | undefined {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    return `install the Bicep CLI ${BICEP_VERSION} on PATH (this platform has no NuGet build of it here)`;
  }
  if (spawnSync('dotnet', ['--version'], { stdio: 'ignore' }).status !== 0) {
    return `neither the Bicep CLI ${BICEP_VERSION} nor the .NET SDK is on PATH (install one, then run ./scripts/setup.sh again)`;
  }
  return undefined;
}

/** Fetches the Bicep CLI from NuGet (a restore of a throwaway project) and returns its path. */
export function fetchBicep(): string {
  const found = findBicep();
  if (found) return found;
  const why = cannotFetch();
  if (why) throw new Error(why);
  mkdirSync(DIR, { recursive: true });
  writeFileSync(
    join(DIR, 'fetch.csproj'),
    `<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup><TargetFramework>netstandard2.0</TargetFramework></PropertyGroup>
  <ItemGroup><PackageDownload Include="Azure.Bicep.CommandLine.linux-x64" Version="[${BICEP_VERSION}]" /></ItemGroup>
</Project>
`,
  );
  const args = [
    'restore',
    join(DIR, 'fetch.csproj'),
    '--packages',
    join(DIR, 'packages'),
    '--nologo',
    '-v',
    'q',
  ];
  const r = spawnSync('dotnet', args, { encoding: 'utf8', cwd: ROOT });
  if (r.status !== 0 || !existsSync(NUGET_BIN)) {
    throw new Error(`dotnet restore of the Bicep CLI failed:\n${r.stdout}${r.stderr}`.trim());
  }
  chmodSync(NUGET_BIN, 0o755);
  return NUGET_BIN;
}

// `node scripts/bicep.ts fetch`: what set-up runs. Without the .NET SDK it says so and succeeds: the checks
// then skip the Bicep lint with the same line.
if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv[2] === 'fetch') {
  const why = findBicep() ? undefined : cannotFetch();
  if (why) {
    console.log(
      `setup: skipping the Bicep CLI: ${why}; npm run check will skip the Bicep lint and its tests`,
    );
  } else {
    console.log(`setup: Bicep CLI ${BICEP_VERSION} at ${fetchBicep()}`);
  }
}
