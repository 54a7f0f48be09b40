/**
 * How a `POST /orders` request names its record, shared by the edge (`orders-edge.ts`) and any origin that
 * spreads `ordersIdentity.origin` into `httpIdempotency`: the same scope, org source and path on both sides.
 *
 * The org must come from something both doors can trust. The reference API takes it from the JWT authorizer's
 * claims, which the edge never sees, so the edge reads `x-idemkit-org`, which only a verifier in front of it
 * (a CloudFront Function checking the token) should set. Until one does, the edge finds no record under the
 * org and forwards every request to the origin: safe, never wrong, and no faster.
 */
import { httpIdentity } from '../../src/edge/index.js';

// The distribution's default behaviour is the API, so CloudFront's URI is the path the HTTP API sees.
export const ordersIdentity = httpIdentity({
  scope: 'create-order',
  org: (request) => request.headers['x-idemkit-org'],
});
