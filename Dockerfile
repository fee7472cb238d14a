# syntax=docker/dockerfile:1
# One image for every Plexus app; the first argument picks which (deploy/docker/entrypoint.sh):
#   docker build -t plexus .
#   docker run plexus control-plane
#   docker run plexus worker --node-id sample_node --properties /etc/plexus/sample_node.properties
#   docker run plexus supervisor --node-id sample_node --properties ...
#   docker run plexus cli nodes ls
# README.md, "Running in production", says which environment each one needs.
ARG NODE_IMAGE=node:20-bookworm-slim

# Build: every dependency, compile the apps (and anything else `npm run build` makes) into dist/.
FROM ${NODE_IMAGE} AS build
ENV SCARF_ANALYTICS=false
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build

# Production dependencies only: the bundles in dist/ require their packages at run time, and none
# of those is a devDependency (checked by running all four apps on an `npm ci --omit=dev` tree).
FROM ${NODE_IMAGE} AS production-deps
ENV SCARF_ANALYTICS=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY --from=production-deps /app/node_modules ./node_modules
COPY package.json ./
COPY --from=build /src/dist ./dist
COPY examples/sample.properties ./examples/sample.properties
COPY deploy/docker/entrypoint.sh /usr/local/bin/plexus-entrypoint
# /var/lib/plexus belongs to the app's user, so that a volume mounted there (compose keeps the
# generated secrets key in one) is writable by it.
RUN chmod 755 /usr/local/bin/plexus-entrypoint \
 && mkdir -p /var/lib/plexus && chown 1000:1000 /var/lib/plexus
# The image's "node" user, by number so that Kubernetes' runAsNonRoot can check it.
USER 1000:1000
# 9000: the control plane's admin API. Workers listen on what their modules configure.
EXPOSE 9000
ENTRYPOINT ["plexus-entrypoint"]
CMD ["control-plane"]
