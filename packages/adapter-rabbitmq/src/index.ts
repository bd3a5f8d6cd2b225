// The public API of @tidings/adapter-rabbitmq is written in the package's own issue.
export {};
