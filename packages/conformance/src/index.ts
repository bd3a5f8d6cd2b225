/**
 * The shared test suite that proves a Tidings broker adapter keeps the delivery contract.
 *
 * @module @tidings/conformance
 */
// '@tidings/conformance': the adapter conformance suite.

export type { Decide, Delivery } from './collector';
export { bodyText, Collector, deferred, eventually, ObserverLog, quietPeriod } from './collector';
export { configRefusal } from './config';
export type { LogLine } from './evidence';
export { LogCapture, SecretEvidence } from './evidence';
export type { Created, Fixture } from './fixture';
export type { FixtureProcess, FixtureProcessOptions, ProcessExit } from './fixture-process';
export { startFixtureProcess } from './fixture-process';
export { freePort, freePorts } from './ports';
export type { RedriveCrashOptions, RedriveCrashReport, RedriveProcess, RedriveRun } from './redrive-crash';
export { runRedriveCrash } from './redrive-crash';
export type { HostileSettings, RawRecord, Scenario, ScenarioName, ScenarioSettings } from './scenario';
export type { ThroughputReport } from './scenarios/throughput';
export type { ConformanceOptions } from './suite';
export { describeAdapter, scenarios } from './suite';
