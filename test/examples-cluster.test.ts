/**
 * examples/basic, node-http and express on a Redis Cluster this file starts (REDIS_CLUSTER): see
 * helpers/cluster-contract.ts. The other framework examples: test/frameworks-cluster.test.ts.
 */
import { examplesOnCluster } from './helpers/cluster-contract.js';

examplesOnCluster(['basic', 'node-http', 'express']);
