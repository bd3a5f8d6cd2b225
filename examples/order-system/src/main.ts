// The order-system example is written in its own issue.
export {};
