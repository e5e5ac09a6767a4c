# kvstore container image: `docker compose up -d` (see docker-compose.yml and docs/OPERATIONS.md).
#
# No Docker engine runs in CI, so scripts/verify-container-recipe.mts parses this file and replays
# it outside a container (docs/OPERATIONS.md): a RUN line it does not know how to replay fails it.

# ---- build stage: full install (dev dependencies included) and `nest build` ------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
# @nestjs/swagger pulls a telemetry postinstall (Scarf); keep it off and npm quiet.
ENV SCARF_ANALYTICS=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false
# Dependencies first, so the install layer is reused until package*.json change.
COPY package.json package-lock.json ./
# This also installs the `node` devDependency (the Node 24 that npm scripts use on machines
# whose own Node is older); here it duplicates the image's, and stays in this stage.
RUN npm ci
# Only what `nest build` reads (tsconfig.build.json compiles src/ alone).
COPY tsconfig.json tsconfig.build.json nest-cli.json ./
COPY src ./src
RUN npm run build

# ---- runtime stage: production dependencies and the compiled dist/ only ----------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production \
    SCARF_ANALYTICS=false \
    NPM_CONFIG_UPDATE_NOTIFIER=false \
    NPM_CONFIG_FUND=false \
    NPM_CONFIG_AUDIT=false \
    PORT=4000 \
    STORAGE=file \
    DATA_DIR=/data \
    HTTP_ADAPTER=fastify
# STORAGE=file, unlike the application's default (memory): the image declares VOLUME /data, so
# `docker run kvstore` keeps its data there, not in memory beside an unused anonymous volume.
# HTTP_ADAPTER repeats the application's default, so the image says which platform it serves on.
# The data directory must exist and belong to `node` before VOLUME, so a fresh named volume is
# created with that owner; /app belongs to `node` so the install below runs unprivileged.
RUN mkdir -p /app /data && chown node:node /app /data
WORKDIR /app
USER node
COPY --chown=node:node package.json package-lock.json ./
# --omit=optional as well: npm keeps TypeScript, an optional peer of @nestjs/swagger (for its CLI
# plugin), unless told; nothing at run time needs an optional dependency.
RUN npm ci --omit=dev --omit=optional && npm cache clean --force
COPY --chown=node:node --from=build /app/dist ./dist

EXPOSE 4000
VOLUME /data
# Liveness (/health), not readiness: some orchestrators restart a container on this status, and
# where /health/ready fails because DATA_DIR was removed and cannot be re-created (a full disk),
# the data lives only in memory and a restart would lose it. docs/OPERATIONS.md, "Health check".
# No curl in slim images: Node's own fetch, bounded by a timeout. /health stays open with
# AUTH_TOKEN set and in protected mode.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 4000) + '/health', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
