import { checkBroker } from './support/broker';

// The integration tests fail (never skip) when the broker is missing, saying how to start it.
export async function setup(): Promise<void> {
  await checkBroker();
}
