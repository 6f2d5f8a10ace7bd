# syntax=docker/dockerfile:1
# backup-operator and backup-manager, built once, each on a minimal runtime base: distroless "cc" (glibc, libgcc,
# CA certificates, a nonroot user; no shell, no package manager). All run as uid/gid 65532. The `sim` image (the
# simulator with the scenarios under /scenarios) runs seed explorations on a cluster (simulator/deploy/explore).
#
#   docker build --target backup-operator -t ghcr.io/tidb-backup-operator/backup-operator:0.1.0 .
#   docker build --target backup-manager  -t ghcr.io/tidb-backup-operator/backup-manager:0.1.0 .
#   docker build --target sim             -t ghcr.io/tidb-backup-operator/sim:0.1.0 .
#
# Without a container engine, scripts/build-image.sh assembles the same images as an OCI layout with umoci.

ARG RUST_VERSION=1.95

FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked -p operator --bins -p simulator --bin sim \
 && mkdir -p /out \
 && cp target/release/backup-operator target/release/backup-manager target/release/sim /out/ \
 && strip --strip-debug /out/backup-operator /out/backup-manager /out/sim

FROM gcr.io/distroless/cc-debian12:nonroot AS backup-manager
COPY --from=build /out/backup-manager /usr/local/bin/backup-manager
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/backup-manager"]

FROM gcr.io/distroless/cc-debian12:nonroot AS backup-operator
COPY --from=build /out/backup-operator /usr/local/bin/backup-operator
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/backup-operator"]
CMD ["run"]

FROM gcr.io/distroless/cc-debian12:nonroot AS sim
COPY --from=build /out/sim /usr/local/bin/sim
COPY scenarios /scenarios
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/sim"]
