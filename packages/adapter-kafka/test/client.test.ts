import { kafkajsClient } from '../src/client/kafkajs/client';
import { platformaticClient } from '../src/client/platformatic/client';
import { clientContract } from './client-contract';

// The seam's contract on each client. @platformatic/kafka runs what issue 18 has ported so far.
clientContract('kafkajs', kafkajsClient);
clientContract('platformatic', platformaticClient);
