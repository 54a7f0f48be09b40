/**
 * Where each AWS Region is, roughly (degrees of latitude and longitude of its metro area): enough to tell which
 * replica of a global table is nearest to the Region a Lambda@Edge function runs in.
 */
const REGION_PLACES: Readonly<Record<string, readonly [number, number]>> = {
  'us-east-1': [38.9, -77.4],
  'us-east-2': [40.0, -83.0],
  'us-west-1': [37.4, -121.9],
  'us-west-2': [45.8, -119.7],
  'ca-central-1': [45.5, -73.6],
  'ca-west-1': [51.0, -114.1],
  'mx-central-1': [20.6, -100.4],
  'sa-east-1': [-23.5, -46.6],
  'eu-west-1': [53.3, -6.3],
  // Stryker disable next-line UnaryOperator: the sign moves London 14 km; it changes two answers, both ties within
  // 2.5 km that the table's one decimal cannot decide (real coordinates reverse one of them)
  'eu-west-2': [51.5, -0.1],
  'eu-west-3': [48.9, 2.4],
  'eu-central-1': [50.1, 8.7],
  'eu-central-2': [47.4, 8.5],
  'eu-north-1': [59.3, 18.1],
  'eu-south-1': [45.5, 9.2],
  'eu-south-2': [41.6, -0.9],
  'il-central-1': [32.1, 34.8],
  'me-south-1': [26.1, 50.6],
  'me-central-1': [24.5, 54.4],
  'af-south-1': [-33.9, 18.4],
  'ap-south-1': [19.1, 72.9],
  'ap-south-2': [17.4, 78.5],
  'ap-east-1': [22.3, 114.2],
  'ap-east-2': [25.0, 121.5],
  'ap-southeast-1': [1.3, 103.8],
  'ap-southeast-2': [-33.9, 151.2],
  'ap-southeast-3': [-6.2, 106.8],
  'ap-southeast-4': [-37.8, 145.0],
  'ap-southeast-5': [3.1, 101.7],
  'ap-southeast-7': [13.8, 100.5],
  'ap-northeast-1': [35.7, 139.7],
  'ap-northeast-2': [37.6, 127.0],
  'ap-northeast-3': [34.7, 135.5],
};

/**
 * The replica Region nearest to `here`: `here` itself when the table has a replica there, else the one at the
 * shortest great-circle distance, else (an unknown Region) the first one listed.
 *
 * @example
 * nearestRegion('eu-west-2', ['us-east-1', 'eu-west-1', 'ap-southeast-2']); // 'eu-west-1'
 */
export function nearestRegion(here: string | undefined, replicas: readonly string[]): string {
  const first = replicas[0];
  if (first === undefined) throw new TypeError('Expected at least one replica Region, got none.');
  if (here === undefined) return first;
  if (replicas.includes(here)) return here;
  const origin = REGION_PLACES[here];
  if (origin === undefined) return first;
  let best = first;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const region of replicas) {
    const place = REGION_PLACES[region];
    if (place === undefined) continue;
    const distance = greatCircle(origin, place);
    if (distance < bestDistance) {
      best = region;
      bestDistance = distance;
    }
  }
  return best;
}

/** The central angle between two places (haversine); only compared, so no Earth radius. */
function greatCircle(
  [lat1, lon1]: readonly [number, number],
  [lat2, lon2]: readonly [number, number],
): number {
  const rad = Math.PI / 180;
  const dLat = (lat2 - lat1) * rad;
  const dLon = (lon2 - lon1) * rad;
  const a = Math.sin(dLat / 2) ** 2 + Math.cos(lat1 * rad) * Math.cos(lat2 * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * Math.asin(Math.min(1, Math.sqrt(a)));
}
