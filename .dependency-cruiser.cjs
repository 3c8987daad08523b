/**
 * The architecture rules of src/, checked by `npm run lint:deps` (and .ci/run).
 * Layers, bottom to top: errors, logger, tracing/channels.ts, config/, values/ -> l1/, l2/ -> get-set/,
 * invalidation/, coherence/, warming/ -> cache.ts, index.ts -> admin/, metrics/, keyv/,
 * tracing/opentelemetry.ts, cli/.
 */
const TIERS = '^src/(l1|l2)/';
const ABOVE_TIERS =
  '^src/(get-set|invalidation|coherence|warming|admin|metrics|keyv|cli)/|^src/(cache|domains|index|status|cli)\\.ts$|^src/tracing/opentelemetry\\.ts$';
const EDGES = '^src/(admin|metrics|keyv|cli)/|^src/(cli|tracing/opentelemetry)\\.ts$';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'No import cycle among src/ files, type-only imports included.',
      from: { path: '^src/' },
      to: { circular: true },
    },
    {
      name: 'tiers-stay-below',
      severity: 'error',
      comment:
        'The memory tier and the Redis tier never import from loading, invalidation, coherence, warming, the facade, admin, metrics or the CLI.',
      from: { path: TIERS },
      to: { path: ABOVE_TIERS },
    },
    {
      name: 'config-is-data',
      severity: 'error',
      comment:
        'config/ resolves options into data: it imports only config/, values/, errors and the logger, nothing that connects or runs.',
      from: { path: '^src/config/' },
      to: { path: '^src/', pathNot: '^src/(config|values)/|^src/(errors|logger)\\.ts$' },
    },
    {
      name: 'values-are-leaves',
      severity: 'error',
      comment:
        'values/ (keys, glob, tags, serializer, envelope, codec) depends on nothing above it but the plain counters it updates.',
      from: { path: '^src/values/' },
      to: { path: '^src/', pathNot: '^src/values/|^src/(errors|logger)\\.ts$|^src/domains/stats\\.ts$' },
    },
    {
      name: 'trace-channels-are-leaves',
      severity: 'error',
      comment:
        'The tracing channels name what is published and with which context; they import nothing of cachette, so every layer may publish.',
      from: { path: '^src/tracing/channels\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'edges-on-top',
      severity: 'error',
      comment:
        'admin, metrics, the Keyv store, the OpenTelemetry bridge and the CLI use the public API or the modules below them; nothing below imports them.',
      from: { path: '^src/', pathNot: EDGES },
      to: { path: EDGES },
    },
    {
      name: 'adapters-do-not-mix',
      severity: 'error',
      comment:
        'admin, metrics and the Keyv store do not import each other or the CLI (the CLI may reuse the admin handlers).',
      from: { path: '^src/(admin|metrics|keyv)/' },
      to: { path: '^src/(admin|metrics|keyv|cli)/', pathNot: '$1' },
    },
    {
      name: 'warming-is-standalone',
      severity: 'error',
      comment:
        'The warming service drives a cache through the small WarmingCache interface, not its internals (durations are a leaf it shares).',
      from: { path: '^src/warming/' },
      to: { path: '^src/', pathNot: '^src/warming/|^src/(errors|logger)\\.ts$|^src/values/durations\\.ts$' },
    },
    {
      name: 'no-orphans',
      severity: 'error',
      comment: 'Every src/ module is reachable from an entry point.',
      from: { orphan: true, path: '^src/' },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default'],
    },
    reporterOptions: { text: { highlightFocused: true } },
  },
};
