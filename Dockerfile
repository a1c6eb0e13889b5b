# Strata node image: build the TypeScript, then run on a slim Node 20 as the
# unprivileged user node, with a HEALTHCHECK on the admin listener's /healthz
# (the admin listener must listen on 0.0.0.0:8081 or 127.0.0.1:8081, as CMD does).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
# glibc gives threads allocating at once arenas of their own and keeps what they freed:
# under a storm of misses 25-27 MiB of RSS beside --memory-size, 4-6 MiB with two (CACHING.md).
ENV MALLOC_ARENA_MAX=2
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY config ./config
RUN mkdir -p /var/cache/strata && chown node:node /var/cache/strata
USER node
EXPOSE 8080 8081
# Liveness from the admin listener (the image has no curl: Node's fetch does it).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:8081/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["--cache-dir", "/var/cache/strata", "--admin-listen", "0.0.0.0:8081"]
