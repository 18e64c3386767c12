package auth

import (
	"context"
	"slices"
	"time"
)

// CredentialKind says how a caller proved who they are.
type CredentialKind string

// Credential kinds.
const (
	// KindAPIKey is a Tollgate API key presented in a header.
	KindAPIKey CredentialKind = "api_key"
	// KindBearer is a JWT access token presented as an OAuth 2.0 bearer token.
	KindBearer CredentialKind = "bearer"
)

// Principal is the authenticated caller of one request. Other packages read it from the
// request context: ratelimit keys limits on Consumer and Plan, metering attributes usage to
// Consumer, KeyID and Plan.
//
// A Principal is immutable once it is in a context; copy it before changing it.
type Principal struct {
	// Consumer is the stable identifier of the customer account that pays for the call.
	// Several keys and token subjects may belong to one consumer.
	Consumer string
	// Tenant optionally groups consumers (an organisation, a workspace).
	Tenant string
	// Subject is the key id for an API key, or the token's "sub" claim for a bearer token.
	Subject string
	// KeyID is the public id of the API key that authenticated the call; empty for tokens.
	KeyID string
	// Issuer is the token issuer for a bearer token; empty for API keys.
	Issuer string
	// Scopes the credential grants.
	Scopes []string
	// Plan is the commercial plan of the consumer ("free", "pro"); ratelimit and billing
	// select policies with it.
	Plan string
	// Kind is the credential kind that was presented.
	Kind CredentialKind
	// Expires is when the credential stops being valid; zero means it does not expire.
	Expires time.Time
	// Metadata carries application attributes stored with the key or taken from the token.
	Metadata map[string]string
}

// HasScope reports whether p was granted scope.
func (p *Principal) HasScope(scope string) bool {
	return p != nil && slices.Contains(p.Scopes, scope)
}

type principalKey struct{}

// NewContext returns a copy of ctx that carries p.
func NewContext(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, principalKey{}, p)
}

// FromContext returns the principal stored in ctx by the authentication middleware, or nil
// when the request is anonymous (a public operation) or did not pass through it.
func FromContext(ctx context.Context) *Principal {
	p, _ := ctx.Value(principalKey{}).(*Principal)
	return p
}
