# One image for every component: chaperone sidecar | webhook | operator.
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund --ignore-scripts --no-save
COPY tsconfig.json tsconfig.build.json tsconfig.image.json ./
# Only what runs: e2e/ and bench/ stay out, so a runtime import of either fails this build.
COPY bin bin
COPY api api
COPY lib lib
COPY sidecar sidecar
COPY webhook webhook
COPY operator operator
COPY capture capture
# tsc writes files without the executable bit: `chaperone` on PATH (below) needs it, as make build does.
RUN npx tsc -p tsconfig.image.json && chmod +x dist/bin/chaperone.js && npm prune --omit=dev --ignore-scripts
# Type declarations and source maps are for compilers and debuggers; nothing reads them at run time
# (node would only with --enable-source-maps). They were 39 of the dependencies' 86 MB.
RUN find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# A young generation of 2 x 4 MiB instead of V8's 2 x 16 MiB: the sidecar's resident set at
# 1000 req/s drops by ~20 MB for a few % of CPU at saturation (bench/README.md, "Memory"; the
# bench runs the sidecar with this same value, read from here).
# An old generation of at most 160 MiB: V8 sizes its heap by the machine's memory, not the pod's
# 256Mi limit, and let garbage pile up past it (the fuzz corpus's peak RSS: 230-280 MiB). With this
# bound it collects sooner (fuzz corpus peak ~150-190 MiB, same time), and 32 MiB answers still fit.
ENV NODE_OPTIONS="--max-semi-space-size=4 --max-old-space-size=192"
# Two glibc malloc arenas instead of eight per core: memory freed after large bodies goes back to a
# few arenas instead of staying resident in many (peak RSS under the fuzz corpus's concurrent
# multi-MiB bodies: ~260-305 MiB with the default, ~254 MiB with 2, against the 256Mi limit).
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/dist dist
# `chaperone` on PATH: the injected sidecar's postStart hook runs `chaperone wait-ready`.
RUN ln -s /app/dist/bin/chaperone.js /usr/local/bin/chaperone
# iptables (with ip6tables and the -restore commands): the transparent-capture init container,
# `chaperone capture-init`, runs from this same image as root with NET_ADMIN and NET_RAW.
RUN apt-get update && apt-get install -y --no-install-recommends iptables && rm -rf /var/lib/apt/lists/*
# Non-root, numeric so runAsNonRoot can verify it; the root filesystem can be read-only.
USER 65532:65532
EXPOSE 14001 14090 14091 14443
ENTRYPOINT ["node", "/app/dist/bin/chaperone.js"]
CMD ["sidecar"]
