import { configRefusal } from '@tidings/conformance';
import { describe, expect, it } from 'vitest';
import { kafkajs, loadKafkajs } from './module';

describe('loading kafkajs', () => {
  it('loads the installed package once', () => {
    expect(typeof kafkajs().Kafka).toBe('function');
    expect(kafkajs()).toBe(kafkajs());
  });

  it('says how to install kafkajs when client is kafkajs and the package is missing', () => {
    const missing = () => {
      throw Object.assign(new Error("Cannot find module 'kafkajs'"), { code: 'MODULE_NOT_FOUND' });
    };
    expect(configRefusal(() => loadKafkajs(missing))).toMatch(
      /^client: is 'kafkajs', but the kafkajs package is not installed: npm install kafkajs/,
    );
  });

  it('passes any other loading failure on as it is', () => {
    const broken = () => {
      throw new SyntaxError('Unexpected token');
    };
    expect(() => loadKafkajs(broken)).toThrow(SyntaxError);
  });
});
