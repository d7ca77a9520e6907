// `npm run lint:infra`: lints every .bicep file (zero errors and zero warnings), compiles infra/main.bicep to
// .tmp/infra/main.json and writes a deployment snapshot (every expression and condition evaluated) for each
// parameter variant below, with the pinned Bicep CLI that set-up fetched (scripts/bicep.ts). No network:
// where set-up could not fetch it (no .NET SDK), it says so in one line, writes .tmp/infra/skipped with the
// reason (the template tests then skip with it) and succeeds.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

import { BICEP_VERSION, cannotFetch, fetchBicep, findBicep } from './bicep.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
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
  // A CI pipeline signed in as a service principal, deploying a development environment with sign-in on.
  pipeline: {
    principalType: 'ServicePrincipal',
    authIssuer: 'https://contoso.ciamlogin.com/00000000-0000-0000-0000-0000000000bb/v2.0',
    authAudience: 'api://cart',
  },
};

function run(cmd: string, args: string[]): { status: number; output: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', cwd: ROOT });
  return { status: r.status ?? 1, output: `${r.stdout}${r.stderr}`.trim() };
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

// Outputs of an earlier run must not stand in for a failed one.
rmSync(OUT, { recursive: true, force: true });
mkdirSync(OUT, { recursive: true });
// Set-up fetched it; fetching here is only for a tree set up before it did (and needs the network).
const why = findBicep() ? undefined : cannotFetch();
if (why) {
  console.log(`lint:infra: skipped: ${why}`);
  writeFileSync(join(OUT, 'skipped'), `${why}\n`);
  process.exit(0);
}
const bicep = fetchBicep();
console.log(`lint:infra: Bicep CLI ${BICEP_VERSION} (${bicep})`);
const cli = (args: string[]) => run(bicep, args);
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
