// The CLI's command line.

export interface TestArgs {
  files: string[];
  reporter: 'spec' | 'junit';
  /** Where the JUnit report goes. */
  output: string;
  /** NDJSON of every frame of the run. */
  exportPath?: string;
  envFiles: string[];
  /** Only scenarios whose name contains one of these. */
  scenarios: string[];
  timeoutMs?: number;
}

export const USAGE = `Usage: ws-inspector test [options] [files, folders or globs...]

Runs the scenarios of *.wsx.yaml and *.wsx.json files (default: every one under the current folder),
prints one line per scenario and a summary, and exits with 1 when any failed.

Options:
  --reporter <spec|junit>  junit also writes a JUnit XML report (default: spec, the console only)
  --output <file>          where --reporter junit writes (default: junit.xml)
  --export <file>          write every frame of the run as NDJSON (secrets and credentials replaced)
  --env-file <file>        variables for \${env:NAME} and \${secret:NAME} (repeatable); the environment wins
  --scenario <text>        run only the scenarios whose name contains the text (repeatable)
  --timeout <ms>           how long expect, connect and close steps wait by default (default: 5000)
  -h, --help               this text

Secrets: \${secret:NAME} reads the environment variable NAME (or an --env-file); its value never appears
in the output, the report or the export.`;

export class UsageError extends Error {}

/** Parses the arguments after `test`. Throws UsageError. */
export function parseTestArgs(argv: readonly string[]): TestArgs {
  const a: TestArgs = { files: [], reporter: 'spec', output: 'junit.xml', envFiles: [], scenarios: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
    const name = eq === -1 ? arg : arg.slice(0, eq);
    const value = (): string => {
      const v = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (v === undefined || v === '') throw new UsageError(`${name} needs a value`);
      return v;
    };
    switch (name) {
      case '--reporter': {
        const r = value();
        if (r !== 'spec' && r !== 'junit') throw new UsageError(`--reporter is spec or junit; got "${r}"`);
        a.reporter = r;
        break;
      }
      case '--output':
        a.output = value();
        break;
      case '--export':
        a.exportPath = value();
        break;
      case '--env-file':
        a.envFiles.push(value());
        break;
      case '--scenario':
        a.scenarios.push(value());
        break;
      case '--timeout': {
        const v = Number(value());
        if (!Number.isFinite(v) || v <= 0) throw new UsageError('--timeout is a number of milliseconds');
        a.timeoutMs = v;
        break;
      }
      default:
        if (arg.startsWith('-') && arg !== '-') throw new UsageError(`unknown option ${arg}`);
        a.files.push(arg);
    }
  }
  return a;
}
