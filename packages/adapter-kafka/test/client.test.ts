import { kafkajsClient } from '../src/client/kafkajs/client';
import { clientContract } from './client-contract';

// The seam's contract on kafkajs; issue 18 adds the @platformatic/kafka client here.
clientContract('kafkajs', kafkajsClient);
