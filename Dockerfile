# syntax=docker/dockerfile:1
# RustShare Object Spaces: the `rustshare` binary on a minimal, non-root runtime image.
#   docker build -t rustshare .
#   docker run --rm -p 8080:8080 rustshare serve --listen 0.0.0.0:8080
# deploy/compose.yaml and deploy/kubernetes/ run it as a cluster.

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches persist between builds (BuildKit), so a source edit rebuilds
# only the crates it touches.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --locked --release -p rustshare-edge --bin rustshare \
    && install -D -m 0755 target/release/rustshare /out/rustshare \
    && install -d -m 0700 /out/var/lib/rustshare

# glibc and libgcc only (rustls, no OpenSSL; SQLite is compiled in); user 65532 "nonroot".
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/rustshare /usr/local/bin/rustshare
COPY --from=build --chown=65532:65532 /out/var/lib/rustshare /var/lib/rustshare
USER 65532:65532
WORKDIR /var/lib/rustshare
ENV RUSTSHARE_DATA_DIR=/var/lib/rustshare \
    RUSTSHARE_LOG_FORMAT=json
# 8080 HTTP; 8443 TLS over TCP and HTTP/3 over UDP.
EXPOSE 8080/tcp 8443/tcp 8443/udp
HEALTHCHECK --interval=30s --timeout=5s CMD ["/usr/local/bin/rustshare", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/rustshare"]
CMD ["serve", "--listen", "0.0.0.0:8080"]
