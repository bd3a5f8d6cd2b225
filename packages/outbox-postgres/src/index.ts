// The public API of @tidings/outbox-postgres is written in the package's own issue.
export {};
