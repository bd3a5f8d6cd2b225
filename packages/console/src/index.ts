// @tidings/console: the web console of a Tidings application.

export { exampleOf } from './example';
export type { ConsoleOptions } from './options';
export type { ConsoleHandler } from './server/handler';
export { createConsoleHandler } from './server/handler';
export type { RunningConsole, StartConsoleOptions } from './start';
export { startConsole } from './start';
