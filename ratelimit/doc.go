// Package ratelimit enforces limits and quotas per consumer, plan, operation or client
// address, in-process or across replicas through a shared store, and tells clients where they
// stand with the IETF RateLimit and RateLimit-Policy headers.
package ratelimit
