# syntax=docker/dockerfile:1.7
# mw-agent. Build from the repository root (the build context is the workspace):
#   docker build -f deploy/docker/agent.Dockerfile -t millwright/agent:0.1.0 .
# BuildKit reads agent.Dockerfile.dockerignore beside this file.
# glibc base (not alpine): onnxruntime-node ships glibc binaries.
ARG NODE_IMAGE=node:22-bookworm-slim
ARG PNPM_VERSION=10.34.9

# ---- build ----
FROM ${NODE_IMAGE} AS build
ARG PNPM_VERSION
ARG TARGETARCH
RUN npm install -g "pnpm@${PNPM_VERSION}" && pnpm --version
WORKDIR /src
COPY package.json pnpm-lock.yaml pnpm-workspace.yaml tsconfig.base.json tsconfig.json ./
COPY proto/package.json proto/
COPY control-plane/package.json control-plane/
COPY edge-agent/package.json edge-agent/
COPY test/package.json test/
# onnxruntime-node's install script (CUDA download) is skipped: pnpm 10 runs only the build scripts
# pnpm-workspace.yaml allows. Its CPU binaries ship inside the package.
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm install --frozen-lockfile
COPY proto/ proto/
COPY edge-agent/ edge-agent/
RUN pnpm exec tsc -b edge-agent
RUN --mount=type=cache,id=pnpm-store,target=/root/.local/share/pnpm/store \
    pnpm --filter @millwright/edge-agent deploy --prod --legacy /out \
 && cd /out/node_modules/.pnpm/onnxruntime-node@*/node_modules/onnxruntime-node/bin/napi-v* \
 && rm -rf darwin win32 \
 && case "${TARGETARCH:-amd64}" in amd64) rm -rf linux/arm64 ;; arm64) rm -rf linux/x64 ;; esac \
 && rm -rf /out/src /out/tsconfig.json /out/tsconfig.tsbuildinfo \
 && chmod 0755 /out/dist/main.js

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    MW_HTTP_HOST=0.0.0.0 \
    MW_DATA_DIR=/var/lib/millwright
WORKDIR /app
COPY --from=build /out /app
RUN ln -s /app/dist/main.js /usr/local/bin/mw-agent \
 && mkdir -p /var/lib/millwright \
 && chown 1000:1000 /var/lib/millwright \
 && chmod 0700 /var/lib/millwright
USER 1000:1000
# Buffer, last good model and cursors: keep it on a volume so a new container resumes offline.
VOLUME ["/var/lib/millwright"]
EXPOSE 9100
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.MW_HTTP_PORT||9100)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["mw-agent"]
