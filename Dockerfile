# syntax=docker/dockerfile:1
# Kluis's production image: `npm run serve` as the unprivileged `node` user.
# Build from the repository root: docker build -t kluis:0.1.0 .   (infra/docker-compose.yml does this)

# --- build: dependencies from the lockfile, Prisma client, web pages --------------------------------
FROM node:20.19-bookworm-slim AS build
WORKDIR /app
ENV CI=true npm_config_yes=true npm_config_update_notifier=false
# The lockfile and the files `postinstall` needs come first, so the dependency layer is rebuilt
# only when they change. `npm install` with the committed lockfile rather than `npm ci` (npm ci
# refuses lockfiles that lack other platforms' optional binaries); the lockfile must come out
# unchanged, which is what npm ci guarantees.
COPY package.json package-lock.json ./
COPY prisma.config.ts ./
COPY prisma ./prisma
COPY scripts/prisma-generate.ts ./scripts/prisma-generate.ts
RUN cp package-lock.json /tmp/package-lock.json \
 && npm install --no-audit --no-fund \
 && { cmp -s package-lock.json /tmp/package-lock.json || { echo "package-lock.json is out of date with package.json" >&2; exit 1; }; }
# Then the sources, and the Teams tab and Outlook add-in pages (dist/web).
COPY . .
RUN npm run build:web \
 && npm cache clean --force

# --- runtime -----------------------------------------------------------------------------------------
FROM node:20.19-bookworm-slim AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=3978 \
    DATA_DIR=/var/lib/kluis \
    npm_config_update_notifier=false \
    npm_config_cache=/tmp/npm-cache
WORKDIR /app
# `npm run serve` runs the TypeScript sources with tsx, so the image keeps the installed tree as built.
COPY --from=build --chown=root:root /app /app
RUN mkdir -p /var/lib/kluis && chown node:node /var/lib/kluis
# The node image's unprivileged user (uid 1000); the application files stay owned by root, read-only to it.
USER node
EXPOSE 3978
VOLUME ["/var/lib/kluis"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3978)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["npm", "run", "serve"]
