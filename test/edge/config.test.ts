import { afterEach, describe, expect, it } from 'vitest';
import { edgeIdempotency, httpIdentity, nearestRegion } from '../../src/edge/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';

const identity = httpIdentity({ scope: 'create-order', org: 'acme' });

// Every commercial Region with a place in src/edge/regions.ts, in its order.
const EVERY_REGION = [
  'us-east-1',
  'us-east-2',
  'us-west-1',
  'us-west-2',
  'ca-central-1',
  'ca-west-1',
  'mx-central-1',
  'sa-east-1',
  'eu-west-1',
  'eu-west-2',
  'eu-west-3',
  'eu-central-1',
  'eu-central-2',
  'eu-north-1',
  'eu-south-1',
  'eu-south-2',
  'il-central-1',
  'me-south-1',
  'me-central-1',
  'af-south-1',
  'ap-south-1',
  'ap-south-2',
  'ap-east-1',
  'ap-east-2',
  'ap-southeast-1',
  'ap-southeast-2',
  'ap-southeast-3',
  'ap-southeast-4',
  'ap-southeast-5',
  'ap-southeast-7',
  'ap-northeast-1',
  'ap-northeast-2',
  'ap-northeast-3',
];

describe('the edge reads the replica nearest to where it runs', () => {
  const replicas = ['us-east-1', 'eu-west-1', 'ap-southeast-2'];
  it.each([
    ['eu-west-1', 'eu-west-1'],
    ['eu-west-2', 'eu-west-1'],
    ['eu-central-1', 'eu-west-1'],
    ['us-west-2', 'us-east-1'],
    ['sa-east-1', 'us-east-1'],
    ['ap-northeast-1', 'ap-southeast-2'],
    ['ap-southeast-4', 'ap-southeast-2'],
  ])('from %s it reads %s', (here, expected) => {
    expect(nearestRegion(here, replicas)).toBe(expected);
  });
  // Each Region's nearest neighbour on the map: a place entered wrong (or left empty) moves some Region's answer.
  it.each([
    ['us-east-1', 'us-east-2'],
    ['us-east-2', 'us-east-1'],
    ['us-west-1', 'us-west-2'],
    ['us-west-2', 'ca-west-1'],
    ['ca-central-1', 'us-east-1'],
    ['ca-west-1', 'us-west-2'],
    ['mx-central-1', 'us-east-2'],
    ['sa-east-1', 'af-south-1'],
    ['eu-west-1', 'eu-west-2'],
    ['eu-west-2', 'eu-west-3'],
    ['eu-west-3', 'eu-west-2'],
    ['eu-central-1', 'eu-central-2'],
    ['eu-central-2', 'eu-south-1'],
    ['eu-north-1', 'eu-central-1'],
    ['eu-south-1', 'eu-central-2'],
    ['eu-south-2', 'eu-west-3'],
    ['il-central-1', 'me-south-1'],
    ['me-south-1', 'me-central-1'],
    ['me-central-1', 'me-south-1'],
    ['af-south-1', 'sa-east-1'],
    ['ap-south-1', 'ap-south-2'],
    ['ap-south-2', 'ap-south-1'],
    ['ap-east-1', 'ap-east-2'],
    ['ap-east-2', 'ap-east-1'],
    ['ap-southeast-1', 'ap-southeast-5'],
    ['ap-southeast-2', 'ap-southeast-4'],
    ['ap-southeast-3', 'ap-southeast-1'],
    ['ap-southeast-4', 'ap-southeast-2'],
    ['ap-southeast-5', 'ap-southeast-1'],
    ['ap-southeast-7', 'ap-southeast-5'],
    ['ap-northeast-1', 'ap-northeast-3'],
    ['ap-northeast-2', 'ap-northeast-3'],
    ['ap-northeast-3', 'ap-northeast-1'],
  ])('from %s, with a replica in every other Region, it reads %s', (here, expected) => {
    expect(
      nearestRegion(
        here,
        EVERY_REGION.filter((region) => region !== here),
      ),
    ).toBe(expected);
  });
  it('reads Montréal’s replica from Virginia, and Virginia’s from Montréal, before any listed first', () => {
    expect(nearestRegion('us-east-1', ['eu-west-1', 'ca-central-1'])).toBe('ca-central-1');
    expect(nearestRegion('ca-central-1', ['eu-west-1', 'us-east-2', 'us-east-1'])).toBe('us-east-1');
  });
  it('weighs longitude by latitude, as the globe does: Virginia is nearer Dublin than São Paulo', () => {
    expect(nearestRegion('us-east-1', ['sa-east-1', 'eu-west-1'])).toBe('eu-west-1');
  });
  it('refuses a table without replicas', () => {
    expect(() => nearestRegion('eu-west-1', [])).toThrow('Expected at least one replica Region, got none.');
  });
  it('falls back to the first replica for an unknown Region or none', () => {
    expect(nearestRegion('xx-nowhere-9', replicas)).toBe('us-east-1');
    expect(nearestRegion(undefined, replicas)).toBe('us-east-1');
  });
});

describe('every setting of the edge door is code', () => {
  afterEach(() => {
    delete process.env.IDEMPOTENCY_MODE;
  });

  it('says an IDEMPOTENCY_* variable is never read there, and names the option to set instead', () => {
    process.env.IDEMPOTENCY_MODE = 'observe';
    const telemetry = recordingTelemetry();
    const edge = edgeIdempotency({ identity, store: new MemoryStore(), telemetry: telemetry.telemetry });
    expect(telemetry.warnings.join('\n')).toMatch(
      /`IDEMPOTENCY_MODE` is set, but `edgeIdempotency` never reads it.*set `mode`/,
    );
    expect(edge).toBeTypeOf('function');
  });

  it('refuses a door without a table, saying the table cannot come from the environment', () => {
    expect(() => edgeIdempotency({ identity })).toThrow(
      /Lambda@Edge has no environment variables.*`table: \{ name, regions \}`/,
    );
  });

  it('refuses a misspelled option and a malformed Region', () => {
    expect(() => edgeIdempotency({ identity, store: new MemoryStore(), moed: 'enforce' } as never)).toThrow(
      /moed/,
    );
    expect(() => edgeIdempotency({ identity, table: { name: 't', regions: ['Europe'] } })).toThrow(/regions/);
  });

  it('refuses a shared identity whose scope could not lead a record key', () => {
    expect(() => httpIdentity({ scope: 'a#b', org: 'acme' })).toThrow(/scope/);
  });
});
