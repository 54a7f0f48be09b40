import { afterEach, describe, expect, it } from 'vitest';
import { edgeIdempotency, httpIdentity, nearestRegion } from '../../src/edge/index.js';
import { MemoryStore } from '../../src/stores/memory.js';
import { recordingTelemetry } from '../core/recording-telemetry.js';

const identity = httpIdentity({ scope: 'create-order', org: 'acme' });

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
