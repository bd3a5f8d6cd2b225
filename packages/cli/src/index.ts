export type { AsyncApiAdapter, AsyncApiOptions, AsyncApiResult } from './asyncapi';
export { createAsyncApiDocument } from './asyncapi';
export type { LoadedConfig, TidingsConfig } from './config';
export { CONFIG_FILES, defineConfig, loadConfig } from './config';
export type { ExitCode } from './exit';
export { EXIT } from './exit';
export type { Io } from './output';
export { main } from './program';
