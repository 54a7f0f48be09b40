// kinesalite ships no types; the stream poller uses only its factory and the http.Server it returns.
declare module 'kinesalite' {
  import type { Server } from 'node:http';

  const kinesalite: (options?: {
    createStreamMs?: number;
    deleteStreamMs?: number;
    updateStreamMs?: number;
    shardLimit?: number;
  }) => Server;
  export default kinesalite;
}
