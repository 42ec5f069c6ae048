import type { NextConfig } from 'next';

// The client is served behind the gateway (npm start) or the Ingress, which own the `/api` paths;
// everything else under `/` is this app. No next/image remote hosts, no fonts fetched at build time
// (the build must work offline).
const config: NextConfig = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The monorepo root holds the one lockfile: tell Next so it does not guess.
  outputFileTracingRoot: new URL('..', import.meta.url).pathname,
  turbopack: { root: new URL('..', import.meta.url).pathname },
};

export default config;
