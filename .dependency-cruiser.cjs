// Import rules of the packages' sources, checked by `npm run lint:imports` (dependency-cruiser).
//
// In @tidings/core, folders are layered: a folder imports only from folders below it, so that a
// newcomer reads them bottom-up and no change to a lower folder can need a higher one. The layers,
// bottom to top (a folder may import from its own layer and any layer below):
const CORE_LAYERS = [
  ['errors\\.ts', 'internal/'],
  ['adapters/[^/]+\\.ts'], // the adapter contract: required and optional interfaces
  ['adapters/kit/'], // helpers for adapter authors
  ['adapters/memory/'], // the in-memory broker
  ['envelope/'],
  ['contracts/'],
  ['context/'], // what a delivery and a publish carry through the bus
  ['middleware/'],
  ['idempotency/'],
  ['policies/'], // retry, dead letter, timeout, idempotency, decode, the failure decision, the pipeline
  ['logging/'],
  ['tracing/'],
  ['bus/'],
  ['outbox/', 'testing/'],
];

const core = (folder) => `^packages/core/src/${folder}`;

const layerRules = CORE_LAYERS.slice(0, -1).map((layer, rank) => ({
  name: `core-layer-${rank}`,
  comment: `${layer.join(' and ')} must not import from a higher layer of core (see .dependency-cruiser.cjs)`,
  severity: 'error',
  from: { path: layer.map(core), pathNot: '\\.test(-d)?\\.ts$' },
  to: {
    path: CORE_LAYERS.slice(rank + 1)
      .flat()
      .map(core),
  },
}));

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'No import cycle between source modules of any package.',
      severity: 'error',
      from: { path: '^packages/[^/]+/src/' },
      to: { circular: true },
    },
    {
      name: 'adapters-stay-apart',
      comment: 'An adapter never imports another adapter; what two need comes from @tidings/core/adapter.',
      severity: 'error',
      from: { path: '^packages/adapter-([^/]+)/' },
      to: { path: '^packages/adapter-', pathNot: '^packages/adapter-$1/' },
    },
    {
      name: 'core-knows-no-broker',
      comment: 'The core imports no broker client.',
      severity: 'error',
      from: { path: '^packages/core/src/' },
      to: { path: 'node_modules/(kafkajs|amqplib|nats|ioredis|pg)/' },
    },
    ...layerRules,
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: { conditionNames: ['@tidings/source', 'import', 'require', 'node', 'default'] },
  },
};
