import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AssetHashType, DockerImage, Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';

/** The one item action the edge needs: it reads records, the origin writes them. */
export const EDGE_RECORD_ACTIONS = ['dynamodb:GetItem'] as const;

/** Lambda@Edge's limits per event type (CloudFront quotas): the most memory and the longest timeout. */
export const EDGE_FUNCTION_LIMITS = {
  'viewer-request': { memoryMiB: 128, timeout: Duration.seconds(5) },
  'origin-request': { memoryMiB: 10_240, timeout: Duration.seconds(30) },
} as const;

/**
 * Props of {@link IdempotencyEdgeFunction}.
 *
 * @example
 * { entry: 'src/edge-handler.ts', tableName: 'idempotency', replicaRegions: ['us-east-1', 'eu-west-1'] }
 */
export interface IdempotencyEdgeFunctionProps {
  /** The handler file: it exports `handler = edgeIdempotency({ identity, table: { name, regions } })`. */
  readonly entry: string;
  /** The idempotency table's name, the same in every replica. */
  readonly tableName: string;
  /** Every Region the table has a replica in; the function may read each (it reads the nearest). */
  readonly replicaRegions: readonly string[];
  /**
   * Where the function runs: `origin-request` (after the cache, bodies up to 1 MB) or `viewer-request`
   * (every request, bodies up to 40 KB).
   * @default 'origin-request'
   */
  readonly eventType?: 'origin-request' | 'viewer-request';
  /**
   * Memory in MiB; at most 128 on viewer request.
   * @default 128
   */
  readonly memoryMiB?: number;
  /**
   * How long one invocation may take; at most 5 s on viewer request, 30 s on origin request.
   * @default Duration.seconds(5) - one read of a nearby replica takes milliseconds; a slow store is forwarded
   */
  readonly timeout?: Duration;
  /**
   * Build-time constants for the handler (esbuild `define`: identifier to JavaScript expression), since
   * Lambda@Edge has no environment variables: `{ IDEMKIT_EDGE_TABLE: JSON.stringify(table.tableName) }`.
   * @default {}
   */
  readonly define?: Readonly<Record<string, string>>;
}

/**
 * The `edgeIdempotency` function as Lambda@Edge: bundled with esbuild, created in us-east-1 (a separate stack
 * when this one is elsewhere), allowed `GetItem` on every replica of the table, and attached with its body
 * included, so the edge can fingerprint the request as the origin does. Lambda@Edge has no environment
 * variables: the table and Regions are in the handler's code, and the construct refuses none here.
 *
 * @example
 * const edge = new IdempotencyEdgeFunction(this, 'Edge', { entry, tableName, replicaRegions });
 * new cloudfront.Distribution(this, 'Cdn', { defaultBehavior: edge.behavior(origin) });
 */
export class IdempotencyEdgeFunction extends Construct {
  /** The function (its version is what CloudFront invokes). */
  readonly function: cloudfront.experimental.EdgeFunction;
  /** The association to put in a behaviour's `edgeLambdas`. */
  readonly edgeLambda: cloudfront.EdgeLambda;

  constructor(scope: Construct, id: string, props: IdempotencyEdgeFunctionProps) {
    super(scope, id);
    const eventType = props.eventType ?? 'origin-request';
    const limits = EDGE_FUNCTION_LIMITS[eventType];
    const memoryMiB = props.memoryMiB ?? 128;
    const timeout = props.timeout ?? Duration.seconds(5);
    if (memoryMiB < 128 || memoryMiB > limits.memoryMiB) {
      throw new Error(
        `Expected \`memoryMiB\` of \`IdempotencyEdgeFunction\` to be 128 to ${limits.memoryMiB} on ${eventType}, got ${memoryMiB}.`,
      );
    }
    if (!timeout.isUnresolved() && timeout.toSeconds() > limits.timeout.toSeconds()) {
      throw new Error(
        `Expected \`timeout\` of \`IdempotencyEdgeFunction\` to be at most ${limits.timeout.toSeconds()} s on ${eventType}, got ${timeout.toSeconds()} s.`,
      );
    }
    if (props.replicaRegions.length === 0) {
      throw new Error(
        'Expected `replicaRegions` of `IdempotencyEdgeFunction` to list every Region the table has a replica in, got none.',
      );
    }

    this.function = new cloudfront.experimental.EdgeFunction(this, 'Function', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: bundled(props.entry, props.define ?? {}),
      memorySize: memoryMiB,
      timeout,
      description: `idemkit edgeIdempotency (${eventType}): answers retries the origin already decided`,
    });
    const stack = Stack.of(this);
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: [...EDGE_RECORD_ACTIONS],
        resources: props.replicaRegions.map((region) =>
          stack.formatArn({ service: 'dynamodb', region, resource: 'table', resourceName: props.tableName }),
        ),
      }),
    );
    this.edgeLambda = {
      functionVersion: this.function.currentVersion,
      eventType:
        eventType === 'viewer-request'
          ? cloudfront.LambdaEdgeEventType.VIEWER_REQUEST
          : cloudfront.LambdaEdgeEventType.ORIGIN_REQUEST,
      // Without the body the edge cannot fingerprint the request, and would forward everything.
      includeBody: true,
    };
  }

  /**
   * A behaviour for an idempotent API: every method allowed, nothing cached, every viewer header but `Host`
   * sent on (the origin needs `Idempotency-Key`), and this function attached.
   *
   * @example
   * distribution.addBehavior('/api/*', origin, edge.behavior());
   */
  behavior(origin: cloudfront.IOrigin): cloudfront.BehaviorOptions;
  behavior(): cloudfront.AddBehaviorOptions;
  behavior(origin?: cloudfront.IOrigin): cloudfront.BehaviorOptions | cloudfront.AddBehaviorOptions {
    const options: cloudfront.AddBehaviorOptions = {
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      edgeLambdas: [this.edgeLambda],
    };
    return origin === undefined ? options : { origin, ...options };
  }

  /**
   * Adds a behaviour for `pathPattern` on `distribution` with this function attached.
   *
   * @example
   * edge.addTo(distribution, '/api/*', new origins.HttpOrigin(apiDomain));
   */
  addTo(distribution: cloudfront.Distribution, pathPattern: string, origin: cloudfront.IOrigin): void {
    if (!Token.isUnresolved(pathPattern) && pathPattern.trim() === '') {
      throw new Error(
        'Expected `pathPattern` to be a CloudFront path pattern (`/api/*`), got an empty string.',
      );
    }
    distribution.addBehavior(pathPattern, origin, this.behavior());
  }
}

/** The handler bundled by esbuild on this machine (no Docker): one ESM file, the AWS SDK included. */
function bundled(entry: string, define: Readonly<Record<string, string>>): lambda.Code {
  return lambda.Code.fromAsset(dirname(entry), {
    // Hashed on the bundle: the constants are part of the code, so another table name is another version.
    assetHashType: AssetHashType.OUTPUT,
    bundling: {
      // Only used when local bundling is impossible; the local esbuild below always answers first.
      image: DockerImage.fromRegistry('public.ecr.aws/sam/build-nodejs22.x'),
      local: {
        tryBundle(outputDir: string): boolean {
          const require = createRequire(import.meta.url);
          let esbuild: typeof import('esbuild');
          try {
            esbuild = require('esbuild') as typeof import('esbuild');
          } catch {
            throw new Error(
              'Expected `esbuild` to be installed to bundle the edge function: run `npm install -D esbuild`.',
            );
          }
          esbuild.buildSync({
            entryPoints: [entry],
            outfile: join(outputDir, 'index.js'),
            bundle: true,
            platform: 'node',
            target: 'node22',
            format: 'cjs',
            minify: true,
            define: { ...define },
            // Lambda@Edge bundles must stay small (1 MB on viewer request): no source maps.
            sourcemap: false,
          });
          return true;
        },
      },
    },
  });
}
