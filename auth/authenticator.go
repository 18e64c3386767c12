package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/textproto"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/clientip"
)

// Config configures an [Authenticator]. The zero value is valid and accepts no credential,
// so every operation that is not [Public] answers 401.
type Config struct {
	// Keys verifies API keys; nil means API keys are not accepted.
	Keys *Keys
	// JWT configures bearer tokens; nil means JWTs are not accepted.
	JWT *JWTConfig
	// KeyHeader is the header that carries an API key; empty means "X-API-Key". Keys are
	// also accepted as "Authorization: Bearer <key>".
	KeyHeader string
	// Realm is the realm named in WWW-Authenticate challenges; empty means "api".
	Realm string
	// Throttle slows clients that keep failing authentication; nil means no throttling.
	// Clients are told apart by address, see TrustedProxies.
	Throttle Throttle
	// TrustedProxies lists the networks of reverse proxies whose X-Forwarded-For is
	// believed when finding the client address for Throttle. Empty trusts none: the peer
	// address is the client, so callers cannot choose their own throttle key.
	TrustedProxies []netip.Prefix
	// OnFailure, when set, is called with every refused request; nil means nothing is
	// reported.
	OnFailure FailureFunc
	// Now is the clock for JWT validation when JWTConfig.Now is nil; nil means time.Now.
	Now func() time.Time
}

// FailureFunc receives a refused request's context and its [*Error], for logging and
// metrics. The error's message names the reason (unknown key id, bad signature, expired)
// but never a secret.
type FailureFunc func(ctx context.Context, err error)

// Authenticator decides who the caller of a request is and whether it may call an
// operation. It is safe for concurrent use.
type Authenticator struct {
	keys      *Keys
	tokens    *Tokens
	keyHeader string
	keyLookup string // keyHeader, canonical
	keyPrefix string // "tg_": an Authorization bearer value that starts so is an API key
	realm     string
	throttle  Throttle
	clients   clientip.Resolver
	onFailure FailureFunc
}

// New returns an Authenticator.
func New(cfg Config) (*Authenticator, error) {
	a := &Authenticator{
		keys: cfg.Keys, keyHeader: cfg.KeyHeader, realm: cfg.Realm, throttle: cfg.Throttle,
		clients: clientip.Resolver{TrustedProxies: cfg.TrustedProxies}, onFailure: cfg.OnFailure,
	}
	if a.keyHeader == "" {
		a.keyHeader = "X-API-Key"
	}
	// Header.Get canonicalises its argument on every call, allocating unless it is
	// canonical already; the header keeps its spelling in docs and challenges.
	a.keyLookup = textproto.CanonicalMIMEHeaderKey(a.keyHeader)
	if a.realm == "" {
		a.realm = "api"
	}
	if strings.ContainsAny(a.realm, "\"\\\r\n") {
		return nil, errors.New("auth: Realm must not contain quotes, backslashes or line breaks")
	}
	if a.keys != nil {
		a.keyPrefix = a.keys.prefix + "_"
	}
	if cfg.JWT != nil {
		jc := *cfg.JWT
		if jc.Now == nil {
			jc.Now = cfg.Now
		}
		t, err := NewTokens(jc)
		if err != nil {
			return nil, err
		}
		a.tokens = t
	}
	return a, nil
}

// Keys returns the API key verifier and issuer, or nil.
func (a *Authenticator) Keys() *Keys { return a.keys }

// credential is what a request presented.
type credential struct {
	value  string
	apiKey bool
}

// credentials finds the one credential in a request's headers. A request with none yields
// the zero credential; a request with two is refused (RFC 6750 §2: one method per request).
func (a *Authenticator) credentials(header func(string) string) (credential, *Error) {
	key := header(a.keyLookup)
	authz := header("Authorization")
	var c credential
	if authz != "" {
		scheme, token, ok := strings.Cut(authz, " ")
		if ok && strings.EqualFold(scheme, "Bearer") {
			token = strings.TrimLeft(token, " ")
			if token == "" || strings.ContainsAny(token, " \t") {
				return c, &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Err: errors.New("malformed Authorization header")}
			}
			c = credential{value: token}
			c.apiKey = a.keyPrefix != "" && strings.HasPrefix(token, a.keyPrefix)
		}
	}
	if key != "" {
		if c.value != "" {
			return credential{}, &Error{Status: http.StatusBadRequest, Code: codeInvalidRequest, Err: errors.New("both an API key header and a bearer token")}
		}
		c = credential{value: key, apiKey: true}
	}
	return c, nil
}

// verify checks one credential.
func (a *Authenticator) verify(ctx context.Context, c credential) (*Principal, error) {
	switch {
	case c.apiKey && a.keys != nil:
		return a.keys.Verify(ctx, c.value)
	case !c.apiKey && a.tokens != nil:
		return a.tokens.Verify(ctx, c.value)
	case c.apiKey:
		return nil, invalid("API keys are not accepted (%s)", KeyHint(c.value))
	}
	return nil, invalid("bearer tokens are not accepted")
}

// Authenticate returns the principal of r. It answers an [*Error]: [ErrUnauthenticated]
// when r carries no credential or a bad one, [ErrThrottled] when it carries a bad one and
// the client address or the key has failed too often (see [Throttle]),
// [ErrUnavailable] when a backend could not be asked. It checks no scopes; see [Authorize].
func (a *Authenticator) Authenticate(r *http.Request) (*Principal, error) {
	return a.authenticate(r.Context(), r.Header.Get, func() string { return a.clients.ClientIP(r).String() })
}

func (a *Authenticator) authenticate(ctx context.Context, header func(string) string, client func() string) (*Principal, error) {
	c, e := a.credentials(header)
	if e != nil {
		e.Challenge = a.challenge(schemeBearer, e.Code)
		return nil, e
	}
	if c.value == "" {
		return nil, &Error{Status: http.StatusUnauthorized, Challenge: a.challenge("", ""), Err: errors.New("no credential")}
	}
	p, err := a.verify(ctx, c)
	if err == nil {
		return p, nil // a credential that verifies is never throttled
	}
	var ae *Error
	if !errors.As(err, &ae) {
		ae = failure(http.StatusServiceUnavailable, "", err)
	}
	if ae.Status != http.StatusUnauthorized {
		return nil, ae
	}
	if a.throttle != nil {
		who := client()
		if retry, throttled := a.throttle.Failed(ctx, who, ae.keyID); throttled {
			t := &throttledError{client: who, cause: ae}
			t.err = Error{Status: http.StatusTooManyRequests, RetryAfter: retry, Err: t}
			return nil, &t.err
		}
	}
	ae.Challenge = a.challenge(schemeOf(c), ae.Code)
	return nil, ae
}

// throttledError is the reason of a 429: the client and the failure it followed. It holds
// the 429 itself, so a refused guess allocates one value for both.
type throttledError struct {
	err    Error
	client string
	cause  *Error
}

func (e *throttledError) Error() string {
	return "client " + e.client + " throttled after failed attempts: " + e.cause.Err.Error()
}

// Authorize reports whether p holds every scope in required: nil, or an [*Error] matching
// [ErrForbidden] that names the missing scopes in its challenge. A nil p (no one
// authenticated) is refused with an [*Error] matching [ErrUnauthenticated].
func (a *Authenticator) Authorize(p *Principal, required []string) error {
	if p == nil {
		return &Error{Status: http.StatusUnauthorized, Challenge: a.challenge("", ""), Err: errors.New("no principal")}
	}
	for _, s := range required {
		if !p.HasScope(s) {
			// A 403 answers only in the scheme the caller used: the others would not help.
			var b strings.Builder
			used := schemeAPIKey
			if p.Kind == KindBearer || a.keys == nil {
				used = schemeBearer
			}
			a.addChallenge(&b, used, used, codeInsufficientScope, required)
			return &Error{
				Status: http.StatusForbidden, Code: codeInsufficientScope, Scopes: required,
				Challenge: b.String(),
				Err:       fmt.Errorf("%s of consumer %s lacks scope %q", p.Subject, p.Consumer, s),
			}
		}
	}
	return nil
}

// Authentication schemes named in challenges.
const (
	schemeBearer = "Bearer" // a JWT in Authorization
	schemeAPIKey = "ApiKey" // an API key, in its header or in Authorization
)

// schemeOf is the scheme a failed credential is answered in.
func schemeOf(c credential) string {
	if c.apiKey {
		return schemeAPIKey
	}
	return schemeBearer
}

// challenge builds WWW-Authenticate for a 400 or 401. It lists every accepted scheme
// (RFC 9110 §11.6.1: a 401 carries at least one challenge), so a client that used the wrong
// one learns the right one; the scheme used carries the error code (RFC 6750 §3.1). Bearer
// is always offered: it carries tokens and API keys alike.
func (a *Authenticator) challenge(used, code string) string {
	var b strings.Builder
	a.addChallenge(&b, schemeBearer, used, code, nil)
	if a.keys != nil {
		a.addChallenge(&b, schemeAPIKey, used, code, nil)
	}
	return b.String()
}

// addChallenge appends one scheme's challenge; scheme == used adds code and scopes.
func (a *Authenticator) addChallenge(b *strings.Builder, scheme, used, code string, scopes []string) {
	if b.Len() > 0 {
		b.WriteString(", ")
	}
	b.WriteString(scheme)
	b.WriteString(` realm="`)
	b.WriteString(a.realm)
	b.WriteByte('"')
	if scheme == used && code != "" {
		b.WriteString(`, error="` + code + `"`)
		if len(scopes) > 0 {
			b.WriteString(`, scope="` + strings.Join(scopes, " ") + `"`)
		}
		return
	}
	if scheme == schemeAPIKey {
		b.WriteString(`, header="` + a.keyHeader + `"`)
	}
}

// check enforces req on one request: the decision both adapters share.
func (a *Authenticator) check(ctx context.Context, req Requirement, header func(string) string, client func() string) (*Principal, error) {
	p, err := a.authenticate(ctx, header, client)
	if err != nil {
		return nil, err
	}
	if err := a.Authorize(p, req.Scopes); err != nil {
		return nil, err
	}
	return p, nil
}

// Requirement is the security an operation or route declares.
type Requirement struct {
	// Public operations need no credential.
	Public bool
	// Scopes the caller must hold, all of them; empty means any authenticated caller.
	Scopes []string
}

func (r Requirement) String() string {
	if r.Public {
		return "public"
	}
	if len(r.Scopes) == 0 {
		return "authenticated"
	}
	return "scopes " + strings.Join(slices.Clone(r.Scopes), " ")
}
