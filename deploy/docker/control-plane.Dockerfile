# syntax=docker/dockerfile:1.7
# mw-control-plane and mwctl. Build from the repository root (the build context is the workspace):
#   docker build -f deploy/docker/control-plane.Dockerfile -t millwright/control-plane:0.1.0 .
# BuildKit (default since Docker 23) reads control-plane.Dockerfile.dockerignore beside this file,
# so the repository needs no root .dockerignore.
ARG NODE_IMAGE=node:22-bookworm-slim
ARG PNPM_VERSION=10.34.9

# ---- build: whole workspace, dev dependencies, tsc -b ----
FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION
# corepack's signature check fails on some networks; npm installs the exact pnpm the repo pins.
RUN npm install -g "pnpm@${PNPM_VERSION}" && pnpm --version
WORKDIR /src
# Manifests first so the dependency layer is cached until a lockfile or manifest changes.
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY proto/package.json proto/
COPY control-plane/package.json control-plane/
COPY edge-agent/package.json edge-agent/
COPY test/package.json test/
# pnpm 10 runs no dependency build scripts except those listed in pnpm-workspace.yaml, so
# onnxruntime-node's install script (it downloads CUDA libraries) is skipped.
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile
COPY proto/ proto/
COPY control-plane/ control-plane/
COPY edge-agent/ edge-agent/
RUN pnpm exec tsc -b control-plane
# A self-contained production tree: package files (dist, migrations), workspace dependencies and
# production node_modules only. --legacy: pnpm 10 otherwise needs inject-workspace-packages.
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm --filter @millwright/control-plane deploy --prod --legacy /out \
 && rm -rf /out/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v*/darwin \
           /out/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && chmod 0755 /out/dist/main.js /out/dist/cli/main.js \
 && test -f /out/migrations/meta/_journal.json

# ---- runtime: node, the app, nothing else ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MW_GRPC_HOST=0.0.0.0 \
    MW_HTTP_HOST=0.0.0.0
WORKDIR /app
# Owned by root and read-only for the app user: the process cannot rewrite its own code.
COPY --from=build /out /app
RUN ln -s /app/dist/main.js /usr/local/bin/mw-control-plane \
 && ln -s /app/dist/cli/main.js /usr/local/bin/mwctl
# The node image's unprivileged user (uid 1000); Kubernetes runAsUser uses the same number.
USER 1000:1000
EXPOSE 7443 8080
# /readyz: connected to NATS and PostgreSQL and serving. Liveness in Kubernetes uses /healthz
# instead. No curl in the slim image: node does it. HTTPS first (http.tls, set in the environment or
# the config file), plain HTTP when the port does not speak TLS. The certificate is not verified, as
# in a kubelet HTTPS probe: a loopback check that sends nothing secret. Compose overrides this check
# with one that verifies against its CA.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const o={host:'127.0.0.1',port:(process.env.MW_HTTP_PORT||8080),path:'/readyz',rejectUnauthorized:false},ok=r=>process.exit(r.statusCode===200?0:1);require('https').get(o,ok).on('error',()=>require('http').get(o,ok).on('error',()=>process.exit(1)))"]
# Migrations: run `mwctl migrate` with MW_DATABASE_URL (compose job, Kubernetes Job).
CMD ["mw-control-plane"]
