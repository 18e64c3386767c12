// Package auth decides who the caller of a request is and what they may do: API keys
// (prefixed, checksummed, stored as keyed digests, rotated and revoked), JWT/OIDC bearer
// tokens verified against JWKS, and scopes, with the caller's [Principal] in the request
// context.
//
// The operation is the policy: huma operation modifiers declare the security requirement,
// document it in OpenAPI and configure the middleware from one value. An operation that
// declares neither a requirement nor that it is public is refused at registration.
package auth
