// Package billing turns metered usage into money: plans, subscriptions, entitlements, usage
// rating, invoices, hooks to payment providers and signed webhooks.
//
// The package is being designed; its API is not available yet. It will read usage through the
// metering package's Usage reader and enforce entitlements as operation policy, the same way
// auth enforces scopes and ratelimit enforces limits.
package billing
