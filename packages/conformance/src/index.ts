// '@tidings/conformance': the adapter conformance suite.

export type { Decide, Delivery } from './collector';
export { bodyText, Collector, deferred, quietPeriod } from './collector';
export type { Created, Fixture } from './fixture';
export type { Scenario, ScenarioName, ScenarioSettings } from './scenario';
export type { ThroughputReport } from './scenarios/throughput';
export type { ConformanceOptions } from './suite';
export { describeAdapter, scenarios } from './suite';
