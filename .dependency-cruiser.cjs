// The layout's import direction (docs/development.md, "Where things are"), checked by
// `npm run lint:layout` in CI: the domain folders never import the public layers, src/internal/
// imports nothing of the library but errors.ts, and there are no import cycles.
/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'domain-imports-no-public-layer',
      comment:
        'providers/, transport/, fold/, json/ and timing/ hold the parts the public layers compose: they never import sources/, operators/ or server/ (nor the other entries: testing/, angular/, telemetry/, cli/).',
      severity: 'error',
      from: { path: '^src/(providers|transport|fold|json|timing)/' },
      to: { path: '^src/(sources|operators|server|testing|angular|telemetry|cli)/' },
    },
    {
      name: 'internal-is-a-leaf',
      comment: 'src/internal/ holds only what every part uses: it imports nothing of the library but errors.ts and its own files.',
      severity: 'error',
      from: { path: '^src/internal/' },
      to: { path: '^src/', pathNot: '^src/(internal/|errors\\.ts$)' },
    },
    {
      name: 'no-circular',
      comment: 'Imports point down: no cycles.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'Every import resolves (else the rules above would check nothing).',
      severity: 'error',
      from: { path: '^src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.build.json' },
  },
};
