package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// JWTConfig configures bearer token verification.
//
// Tokens are verified with github.com/golang-jwt/jwt/v5: it has no dependencies, it is the
// JWT library most Go services already use, and it leaves key management to the caller,
// which is what lets this package pin every key to its algorithms and control exactly when
// JWKS is fetched. Its parser is given only asymmetric algorithms, and the checks it does
// not make (crit, key pinning, issuer selection, size) are made here.
type JWTConfig struct {
	// Issuers whose tokens are accepted; at least one.
	Issuers []Issuer
	// HTTPClient fetches discovery documents and JWK Sets; nil means a client with a
	// 10-second timeout.
	HTTPClient *http.Client
	// MaxTokenBytes refuses longer tokens before any parsing; zero means 8 KiB.
	MaxTokenBytes int
	// CacheSize bounds the cache of verified tokens, which makes a repeat presentation cost a
	// hash lookup instead of a signature check; zero means 10 000, negative disables it. An
	// entry lives until the token's exp and is dropped when its signing key leaves the
	// issuer's key set.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Issuer is one token issuer.
type Issuer struct {
	// Issuer is the exact "iss" value, e.g. "https://login.example.com/". Required.
	Issuer string
	// Audience must appear exactly in the token's "aud". Required: without it a token your
	// identity provider minted for any other API would be accepted by this one.
	Audience string
	// JWKSURL is where the issuer publishes its keys. Empty means OpenID Connect discovery at
	// Issuer + "/.well-known/openid-configuration".
	JWKSURL string
	// JWKS is a fixed JWK Set used instead of fetching one, for pinned keys and tests.
	JWKS json.RawMessage
	// Algorithms allowed for this issuer's keys; empty means every asymmetric algorithm
	// (RS*, PS*, ES*, EdDSA). HMAC algorithms and "none" are refused.
	Algorithms []string
	// Leeway tolerates clock skew on exp, nbf and iat; at most 5 minutes, zero means none.
	Leeway time.Duration
	// ConsumerClaim names the claim that becomes [Principal.Consumer]; empty means "sub".
	// Client-credentials tokens often carry the client in "azp" or "client_id".
	ConsumerClaim string
	// TenantClaim and PlanClaim name claims copied to the principal; empty means none.
	TenantClaim, PlanClaim string
	// RefreshCooldown is the least time between two fetches of the key set, however many
	// tokens arrive with an unknown kid; zero means 30 seconds.
	RefreshCooldown time.Duration
	// MaxStale is how long past its expiry a key set is still used while the issuer cannot
	// be reached; zero means 24 hours. After that, tokens are answered with 503.
	MaxStale time.Duration
}

const (
	defaultMaxTokenBytes = 8 << 10
	maxLeeway            = 5 * time.Minute
)

// Tokens verifies JWT bearer tokens from the configured issuers.
type Tokens struct {
	issuers map[string]*issuerState
	parser  *jwt.Parser
	max     int
	now     func() time.Time
	cache   *tokenCache
}

type issuerState struct {
	cfg       Issuer
	src       *jwksSource
	validator *jwt.Validator
}

// NewTokens returns a bearer token verifier.
func NewTokens(cfg JWTConfig) (*Tokens, error) {
	if len(cfg.Issuers) == 0 {
		return nil, errors.New("auth: JWTConfig.Issuers is empty")
	}
	t := &Tokens{issuers: make(map[string]*issuerState), max: cfg.MaxTokenBytes, now: cfg.Now}
	if t.max <= 0 {
		t.max = defaultMaxTokenBytes
	}
	if t.now == nil {
		t.now = time.Now
	}
	client := fetchClient(cfg.HTTPClient)
	var all []string
	for _, is := range cfg.Issuers {
		st, err := newIssuerState(is, client, t.now)
		if err != nil {
			return nil, err
		}
		if _, dup := t.issuers[is.Issuer]; dup {
			return nil, fmt.Errorf("auth: issuer %q configured twice", is.Issuer)
		}
		t.issuers[is.Issuer] = st
		for _, a := range st.src.algs {
			if !slices.Contains(all, a) {
				all = append(all, a)
			}
		}
	}
	// Claims are validated per issuer after the signature, with that issuer's validator.
	// Strict decoding refuses non-canonical base64, so one token has one spelling.
	t.parser = jwt.NewParser(jwt.WithValidMethods(all), jwt.WithoutClaimsValidation(), jwt.WithStrictDecoding())
	if cfg.CacheSize >= 0 {
		size := cfg.CacheSize
		if size == 0 {
			size = 10_000
		}
		t.cache = newTokenCache(size)
	}
	return t, nil
}

// fetchClient returns the client that fetches key material: c, or a 10-second client when
// nil, made to check every redirect like the configured URL, so an https endpoint cannot
// hand the fetch to plain http. A caller's own CheckRedirect still runs after the check; c
// itself is not modified.
func fetchClient(c *http.Client) *http.Client {
	if c == nil {
		c = &http.Client{Timeout: fetchTimeout}
	}
	cp := *c
	next := c.CheckRedirect
	cp.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := checkFetchURL(req.URL.String()); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 { // net/http's default limit
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &cp
}

func newIssuerState(is Issuer, client *http.Client, now func() time.Time) (*issuerState, error) {
	if is.Issuer == "" || is.Audience == "" {
		return nil, errors.New("auth: every Issuer needs Issuer and Audience")
	}
	if is.Leeway < 0 || is.Leeway > maxLeeway {
		return nil, fmt.Errorf("auth: issuer %q: Leeway must be between 0 and %s", is.Issuer, maxLeeway)
	}
	algs := is.Algorithms
	if len(algs) == 0 {
		algs = asymmetricAlgs
	}
	for _, a := range algs {
		if !slices.Contains(asymmetricAlgs, a) {
			return nil, fmt.Errorf("auth: issuer %q: algorithm %q is not allowed (only asymmetric algorithms: %s)", is.Issuer, a, strings.Join(asymmetricAlgs, ", "))
		}
	}
	src := &jwksSource{
		issuer: is.Issuer, jwksURL: is.JWKSURL, discover: is.JWKSURL == "" && is.JWKS == nil, client: client, algs: algs,
		cooldown: is.RefreshCooldown, maxStale: is.MaxStale, now: now,
	}
	if src.cooldown <= 0 {
		src.cooldown = defaultCooldown
	}
	if src.maxStale <= 0 {
		src.maxStale = defaultMaxStale
	}
	switch {
	case is.JWKS != nil:
		keys, err := parseJWKS(is.JWKS, algs)
		if err != nil {
			return nil, fmt.Errorf("auth: issuer %q: %w", is.Issuer, err)
		}
		src.static = true
		src.set.Store(&keySet{keys: keys})
	case is.JWKSURL != "":
		if err := checkFetchURL(is.JWKSURL); err != nil {
			return nil, fmt.Errorf("auth: issuer %q: JWKSURL %w", is.Issuer, err)
		}
	default:
		if err := checkFetchURL(is.Issuer); err != nil {
			return nil, fmt.Errorf("auth: issuer %q: discovery needs an https issuer or JWKSURL: %w", is.Issuer, err)
		}
	}
	if is.ConsumerClaim == "" {
		is.ConsumerClaim = "sub"
	}
	v := jwt.NewValidator(
		jwt.WithIssuer(is.Issuer), jwt.WithAudience(is.Audience), jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(), jwt.WithLeeway(is.Leeway), jwt.WithTimeFunc(now),
	)
	return &issuerState{cfg: is, src: src, validator: v}, nil
}

var (
	errTokenTooLarge = errors.New("token too large")
	errCritHeader    = errors.New(`token has a "crit" header: no extensions are understood`)
	errUnknownIssuer = errors.New("token from an unknown issuer")
	errUnknownKey    = errors.New("token signed with an unknown key")
	errAlgNotPinned  = errors.New("token algorithm not allowed for its key")
	errBadKid        = errors.New(`token "kid" is not a short string`)
)

// Verify checks a bearer token: size, header, issuer, signature with a key of that
// issuer pinned to the token's algorithm, then exp (required), nbf, iat, iss and aud. The
// returned principal is shared: do not modify it.
func (t *Tokens) Verify(ctx context.Context, token string) (*Principal, error) {
	if len(token) > t.max {
		return nil, invalid("%w: %d bytes", errTokenTooLarge, len(token))
	}
	now := t.now()
	if t.cache != nil {
		if p := t.cache.get(token, now); p != nil {
			return p, nil
		}
	}
	var (
		st   *issuerState
		set  *keySet
		key  *verifyKey
		kid  string
		fail error
	)
	claims := jwt.MapClaims{}
	_, err := t.parser.ParseWithClaims(token, claims, func(tok *jwt.Token) (any, error) {
		// golang-jwt ignores "crit"; RFC 7515 §4.1.11 requires refusing extensions we do
		// not understand, and we understand none. jku, x5u, x5c and jwk are never read: the
		// key comes only from the configured issuer's key set.
		if _, ok := tok.Header["crit"]; ok {
			return nil, errCritHeader
		}
		if v, ok := tok.Header["kid"]; ok {
			s, isString := v.(string)
			if !isString || len(s) > maxKidLen {
				return nil, errBadKid
			}
			kid = s
		}
		iss, _ := claims["iss"].(string)
		st = t.issuers[iss]
		if st == nil {
			return nil, errUnknownIssuer
		}
		ks, err := st.src.current(ctx, kid)
		if err != nil {
			fail = err
			return nil, err
		}
		set = ks
		k := ks.lookup(kid)
		if k == nil {
			return nil, errUnknownKey
		}
		if !slices.Contains(k.algs, tok.Method.Alg()) {
			return nil, errAlgNotPinned
		}
		key = k
		return k.key, nil
	})
	if fail != nil {
		return nil, failure(http.StatusServiceUnavailable, "", fail)
	}
	if err != nil {
		return nil, invalid("%w", err)
	}
	if err := st.validator.Validate(claims); err != nil {
		return nil, invalid("%w", err)
	}
	p, err := st.principal(claims)
	if err != nil {
		return nil, invalid("%w", err)
	}
	if t.cache != nil {
		t.cache.put(token, p, st.src, set, kid, key)
	}
	return p, nil
}

func (st *issuerState) principal(c jwt.MapClaims) (*Principal, error) {
	sub, _ := c["sub"].(string)
	consumer, _ := c[st.cfg.ConsumerClaim].(string)
	if consumer == "" {
		return nil, fmt.Errorf("token has no %q claim", st.cfg.ConsumerClaim)
	}
	exp, err := c.GetExpirationTime()
	if err != nil || exp == nil {
		return nil, errors.New("token has no exp")
	}
	p := &Principal{
		Consumer: consumer, Subject: sub, Issuer: st.cfg.Issuer, Kind: KindBearer,
		Expires: exp.Time, Scopes: scopes(c),
	}
	if st.cfg.TenantClaim != "" {
		p.Tenant, _ = c[st.cfg.TenantClaim].(string)
	}
	if st.cfg.PlanClaim != "" {
		p.Plan, _ = c[st.cfg.PlanClaim].(string)
	}
	return p, nil
}

// scopes reads "scope" (RFC 8693/9068: space separated) and "scp" (an array, or a string,
// as some providers send it).
func scopes(c jwt.MapClaims) []string {
	var out []string
	add := func(s string) {
		for f := range strings.FieldsSeq(s) {
			if !slices.Contains(out, f) {
				out = append(out, f)
			}
		}
	}
	if s, ok := c["scope"].(string); ok {
		add(s)
	}
	switch v := c["scp"].(type) {
	case string:
		add(v)
	case []any:
		for _, e := range v {
			if s, ok := e.(string); ok {
				add(s)
			}
		}
	}
	return out
}
