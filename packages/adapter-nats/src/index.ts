// The public API of @tidings/adapter-nats is written in the package's own issue.
export {};
