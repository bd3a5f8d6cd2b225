// The public API of @tidings/adapter-kafka is written in the package's own issue.
export {};
