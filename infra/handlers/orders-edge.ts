/**
 * The reference Lambda@Edge handler: answers retries of `POST /orders` that the origin already decided, at the
 * edge, and forwards everything else. Deployed by `infra/stacks/orders-edge-stack.ts` (layout `edge`).
 *
 * Lambda@Edge has no environment variables: the table and its Regions are build-time constants the
 * `IdempotencyEdgeFunction` construct defines when it bundles this file.
 *
 * @example
 * npm run synth -- --context stage=prod --context layout=edge
 */
import { edgeIdempotency } from '../../src/edge/index.js';
import { ordersIdentity } from './orders-identity.js';

declare const IDEMKIT_EDGE_TABLE: string;
declare const IDEMKIT_EDGE_REGIONS: readonly string[];

export const handler = edgeIdempotency({
  identity: ordersIdentity,
  table: { name: IDEMKIT_EDGE_TABLE, regions: IDEMKIT_EDGE_REGIONS },
  mode: 'enforce',
});
