/**
 * The framework examples other than node-http and express (Fastify, Hono, Koa, and any added to
 * helpers/examples.ts) on a Redis Cluster this file starts (REDIS_CLUSTER): see
 * helpers/cluster-contract.ts. basic, node-http and express: test/examples-cluster.test.ts.
 */
import { examplesOnCluster } from './helpers/cluster-contract.js';
import { EXAMPLES } from './helpers/examples.js';

examplesOnCluster(EXAMPLES.filter((example) => example !== 'node-http' && example !== 'express'));
