// dynalite ships no types; the playground uses only its factory and the http.Server it returns.
declare module 'dynalite' {
  import type { Server } from 'node:http';

  const dynalite: (options?: Record<string, unknown>) => Server;
  export default dynalite;
}
