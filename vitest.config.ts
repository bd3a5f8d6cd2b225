import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: ['packages/*', 'examples/*', 'docs'],
    // Vitest's default is one worker less than the CPUs: one file at a time on the project's 2-core
    // machines, while most files spend their time waiting on a broker, a child process or a
    // timeout. Two at a time halved Redis Streams' time there (139 s -> 71 s, back to back) and cut
    // RabbitMQ's by a quarter; three gained little more and loads the brokers that the tests'
    // tolerances were written for.
    maxWorkers: 2,
  },
});
