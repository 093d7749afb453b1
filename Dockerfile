# Control plane image: `mlops server` (API, scheduler, serving, pipelines). Multi-stage: the build stage has
# the compilers for better-sqlite3 and TypeScript; the runtime stage only production node_modules, the
# compiled dist/ and the bundled example, running as a non-root user. Workloads use Dockerfile.workload.
#   docker build -t ghcr.io/mlops-platform/control-plane:dev .
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# onnxruntime-node would download CUDA binaries; serving uses the CPU build it ships (README.md, Development).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
COPY web ./web
# `npm ci` builds better-sqlite3 and runs `prepare` (tsc -> dist/); then the dev dependencies go.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev --no-audit --no-fund

FROM node:20-bookworm-slim
ENV NODE_ENV=production MLOPS_HOST=0.0.0.0 MLOPS_PORT=8080 MLOPS_DATA_DIR=/var/lib/mlops
RUN groupadd --gid 10001 mlops && useradd --uid 10001 --gid 10001 --home-dir /var/lib/mlops --create-home mlops
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/dist-web ./dist-web
COPY package.json ./
COPY bin ./bin
COPY examples/vision-classifier ./examples/vision-classifier
USER 10001:10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD node -e "fetch('http://127.0.0.1:8080/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "bin/mlops.js"]
CMD ["server"]
