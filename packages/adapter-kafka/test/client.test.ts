import { kafkajsClient } from '../src/client/kafkajs/client';
import { platformaticClient } from '../src/client/platformatic/client';
import { clientContract } from './client-contract';

// The seam's contract on each client: both implement the whole seam now (issue 18, third step).
clientContract('kafkajs', kafkajsClient);
clientContract('platformatic', platformaticClient);
