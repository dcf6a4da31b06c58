# One thresh node per container. Built from the repository: `docker compose build`.
FROM node:20-bookworm-slim
WORKDIR /app
COPY . .
# npm ci runs the root "prepare" script (tsc -b), so dist/ is built here; dev tools go after.
RUN npm ci && npm prune --omit=dev && mkdir -p /data && chown node:node /data
USER node
VOLUME /data
# libp2p (TCP) and the HTTP API.
EXPOSE 4001 8080
ENTRYPOINT ["/app/docker/entrypoint.sh"]
