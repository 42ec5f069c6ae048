// The client is served behind the gateway (npm start) or the Ingress, which own the `/api` paths;
// everything else under `/` is this app. No next/image remote hosts, no fonts fetched at build time
// (the build must work offline). Plain JavaScript, so `next start` in the production image needs no
// TypeScript to read it.
const root = new URL('..', import.meta.url).pathname;

/** @type {import('next').NextConfig} */
const config = {
  reactStrictMode: true,
  poweredByHeader: false,
  // The monorepo root holds the one lockfile: tell Next so it does not guess.
  outputFileTracingRoot: root,
  turbopack: { root },
};

export default config;
