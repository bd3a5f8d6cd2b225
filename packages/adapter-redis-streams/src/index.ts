// The public API of @tidings/adapter-redis-streams is written in the package's own issue.
export {};
