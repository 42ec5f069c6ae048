# One Dockerfile for the five services; the build argument SERVICE picks which one. Build context:
# the REPOSITORY ROOT (the workspace lockfile and `common` live there):
#   docker build --build-arg SERVICE=auth -t ticketing/auth .              # production image (stage runtime)
#   docker build --build-arg SERVICE=auth --target dev -t ticketing/auth . # what skaffold dev builds
# (podman build takes the same arguments; `npm run test:deploy` builds and runs every image this way.)
#
# SERVICE is declared in each stage that uses it (ARG SERVICE), never turned into an ENV of a shared
# stage: an image that holds the name in an ENV lets a layer cache hand one service's stage to
# another (buildah issue #5501 reuses `ENV SERVICE=${SERVICE}` across build arguments).
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS base
ENV NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
WORKDIR /app
# Every workspace manifest is copied, and only those, so that the npm ci layers below depend on
# nothing else (and skaffold rebuilds on nothing else): `npm ci` checks the whole lockfile against
# every workspace the root package.json lists (infra/validate/infra.test.ts keeps this list whole).
COPY package.json package-lock.json ./
COPY common/package.json common/
COPY auth/package.json auth/
COPY tickets/package.json tickets/
COPY orders/package.json orders/
COPY expiration/package.json expiration/
COPY payments/package.json payments/
COPY client/package.json client/
COPY infra/dev/package.json infra/dev/

# ---------------------------------------------------------------------------------------------
# Full dependencies (root dev tools such as typescript and tsx included) of common and the five
# services, not only this one's: the same for all five, so that a layer cache builds this stage and
# common once for them all (other workspaces, such as the web client, have Dockerfiles of their own).
# --ignore-scripts: no install script is needed (native addons come as prebuilt optional packages)
# and none is trusted.
FROM base AS deps
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --include-workspace-root \
      -w common -w auth -w tickets -w orders -w expiration -w payments

# ---------------------------------------------------------------------------------------------
# common compiled once; both dev and build start from here.
FROM deps AS common-build
COPY tsconfig.base.json ./
COPY common/ common/
RUN npm run build -w common

# ---------------------------------------------------------------------------------------------
# Target used by skaffold dev. skaffold syncs <svc>/src/**/*.ts to /app/<svc>/src (sync dest /app
# keeps the context-relative path), and `tsx watch` restarts the service on change. The service
# folder (created as root by the COPY of its package.json above) and everything in it belong to
# `node`, so the sync, which runs as the container user, can write into it. A change in common/ is
# not synced: skaffold rebuilds the image, which recompiles common.
FROM common-build AS dev
ARG SERVICE
ENV NODE_ENV=development \
    PATH=/app/node_modules/.bin:$PATH
COPY --chown=node:node ${SERVICE}/ ${SERVICE}/
RUN chown node:node "${SERVICE}"
WORKDIR /app/${SERVICE}
USER node
EXPOSE 3000
CMD ["tsx", "watch", "--clear-screen=false", "src/main.ts"]

# ---------------------------------------------------------------------------------------------
# Compiled output for production: no declaration files, no source maps, no test harness
# (common/dist/testing holds the helpers test files call; no service imports them).
FROM common-build AS build
ARG SERVICE
COPY ${SERVICE}/ ${SERVICE}/
RUN npm run build -w "${SERVICE}" \
 && rm -rf common/dist/testing \
 && find common/dist "${SERVICE}/dist" \( -name '*.d.ts' -o -name '*.map' \) -delete

# ---------------------------------------------------------------------------------------------
# Production dependencies only, installed apart so that the runtime stage receives node_modules
# without npm's cache or any build tool; then only what the service needs at run time is kept:
# node_modules and the package.json of common and of this service (no lockfile, no other workspace).
FROM base AS prod-deps
ARG SERVICE
RUN test -n "${SERVICE}" -a -f "${SERVICE}/package.json" \
 || { echo "build with --build-arg SERVICE=<a service folder> (got '${SERVICE}')" >&2; exit 1; }
RUN --mount=type=cache,target=/root/.npm \
    npm ci --ignore-scripts --omit=dev -w common -w "${SERVICE}" \
 && rm -f package-lock.json node_modules/.package-lock.json \
 && find . -path '*/node_modules/*' \( -name '*.d.ts' -o -name '*.map' \) -delete \
 && find . -mindepth 1 -maxdepth 1 ! -name node_modules ! -name common ! -name "${SERVICE}" -exec rm -rf {} +

# ---------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ARG SERVICE
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
# Files stay owned by root: the service (running as `node`) can read but not modify its code, and
# it writes nothing, so it runs with a read-only root filesystem.
COPY --from=prod-deps /app /app
COPY --from=build /app/common/dist /app/common/dist
COPY --from=build /app/${SERVICE}/dist /app/${SERVICE}/dist
WORKDIR /app/${SERVICE}
USER node
EXPOSE 3000
CMD ["node", "dist/main.js"]
