/**
 * The tests' DynamoDB Local starter is the playground's: one starter, so `npm start`, the demo and the
 * tests run the same server the same way.
 */
export {
  type DynamoDBLocal,
  type DynamoDBLocalOptions,
  dynamoDBLocalJar,
  freePort,
  LOCAL_CLIENT_CONFIG,
  startDynamoDBLocal,
} from '../../playground/servers/dynamodb-local.js';
