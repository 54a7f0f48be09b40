import { fileURLToPath } from 'node:url';
import { Annotations, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import type { Construct } from 'constructs';
import { IdempotencyEdgeFunction } from '../constructs/index.js';
import type { LayoutSettings, StageSettings } from '../stages.js';

/**
 * Props of {@link OrdersEdgeStack}.
 *
 * @example
 * { settings: stageSettings('prod'), layout: layoutSettings('edge'), originDomainName: 'abc.execute-api.us-east-1.amazonaws.com' }
 */
export interface OrdersEdgeStackProps extends StackProps {
  readonly settings: StageSettings;
  /** A layout with `edge` and `replicas` (`layoutSettings('edge')`). */
  readonly layout: LayoutSettings;
  /**
   * The orders API's domain, the distribution's origin.
   * @default the layout's placeholder - synth works, a deploy must be given the API's domain
   */
  readonly originDomainName?: string;
}

/**
 * The edge layout's CloudFront distribution (us-east-1, as Lambda@Edge requires): the orders API as its origin,
 * with `edgeIdempotency` on origin request, body included, so a retry the origin already answered is answered
 * at the edge and everything else goes on to `httpIdempotency`.
 *
 * @example
 * new OrdersEdgeStack(app, 'idemkit-prod-edge', { settings, layout, env: { region: 'us-east-1' } });
 */
export class OrdersEdgeStack extends Stack {
  readonly edge: IdempotencyEdgeFunction;
  readonly distribution: cloudfront.Distribution;

  constructor(scope: Construct, id: string, props: OrdersEdgeStackProps) {
    super(scope, id, props);
    const { settings, layout } = props;
    if (layout.edge === undefined) {
      throw new Error(
        `Expected a layout with \`edge\` for \`OrdersEdgeStack\`, got ${layout.layout}; pass layoutSettings('edge').`,
      );
    }
    const originDomainName = props.originDomainName ?? layout.edge.placeholderOriginDomain;
    if (originDomainName === layout.edge.placeholderOriginDomain) {
      Annotations.of(this).addWarningV2(
        'idemkit:placeholder-origin',
        'The distribution points at a placeholder origin; pass the orders API domain: --context edgeOriginDomain=<api-id>.execute-api.<region>.amazonaws.com',
      );
    }
    const home = layout.homeRegion ?? this.region;
    this.edge = new IdempotencyEdgeFunction(this, 'OrdersEdge', {
      entry: fileURLToPath(new URL('../handlers/orders-edge.ts', import.meta.url)),
      tableName: settings.table.tableName,
      replicaRegions: [home, ...(layout.replicas?.regions ?? [])],
      eventType: layout.edge.eventType,
      // Lambda@Edge has no environment variables: the handler's settings are compiled in.
      define: {
        IDEMKIT_EDGE_TABLE: JSON.stringify(settings.table.tableName),
        IDEMKIT_EDGE_REGIONS: JSON.stringify([home, ...(layout.replicas?.regions ?? [])]),
      },
    });
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: `idemkit ${settings.stage}: POST /orders answered at the edge when the origin already did`,
      defaultBehavior: this.edge.behavior(new origins.HttpOrigin(originDomainName)),
    });
    new CfnOutput(this, 'DistributionDomainName', {
      value: this.distribution.distributionDomainName,
      description: 'POST /orders here: retries the origin answered are answered at the edge',
    });

    // cdk-nag AwsSolutions findings this stack accepts on purpose, each with its reason.
    Validations.of(this.edge.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Node.js 22 is the runtime idemkit supports and tests (engines.node >=22); move to a newer one after running the suite on it.',
    });
    Validations.of(this.edge.function).acknowledge({
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'AWSLambdaBasicExecutionRole only lets the edge function write its own CloudWatch logs; its table access is the exact GetItem grant on each replica.',
    });
    const distributionFindings: Record<string, string> = {
      'AwsSolutions-CFR1':
        "An API for authenticated clients anywhere; geo restriction is the service owner's choice, not the reference's.",
      'AwsSolutions-CFR2':
        'The origin API throttles and authorizes every request; attach a WAF web ACL in front when the service needs one.',
      'AwsSolutions-CFR3':
        'Access logs need a bucket the reference does not own; the origin API keeps its own access logs.',
      'AwsSolutions-CFR4':
        'The default CloudFront certificate only allows TLSv1; a deploy with a custom domain sets TLS_V1_2_2021 with its certificate.',
    };
    for (const [id, reason] of Object.entries(distributionFindings)) {
      Validations.of(this.distribution).acknowledge({ id, reason });
    }
  }
}
