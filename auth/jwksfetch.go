package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// JWKS caching bounds. The issuer's Cache-Control max-age decides how long a key set is
// fresh, clamped so a misconfigured issuer can neither make us fetch on every request nor
// pin a key set for weeks.
const (
	minJWKSTTL       = time.Minute
	maxJWKSTTL       = 24 * time.Hour
	defaultJWKSTTL   = time.Hour
	fetchTimeout     = 10 * time.Second
	defaultCooldown  = 30 * time.Second
	defaultMaxStale  = 24 * time.Hour
	discoveryDocPath = "/.well-known/openid-configuration"
)

// keySet is one fetched JWK Set. It is never modified after it is published.
type keySet struct {
	keys    map[string]*verifyKey
	fetched time.Time
	expires time.Time
}

// lookup finds the key for kid; a token without kid is accepted only when the set holds a
// single key, so the verifier never tries keys in turn.
func (ks *keySet) lookup(kid string) *verifyKey {
	if k := ks.keys[kid]; k != nil {
		return k
	}
	if kid == "" && len(ks.keys) == 1 {
		for _, k := range ks.keys {
			return k
		}
	}
	return nil
}

// jwksSource keeps one issuer's key set: fetched lazily, fresh for the issuer's max-age,
// refetched on an unknown kid at most once per cooldown, and used past its expiry while
// the issuer is unreachable, up to maxStale.
type jwksSource struct {
	issuer   string
	jwksURL  string // empty until discovered when only the issuer is configured
	discover bool   // jwksURL comes from discovery: look it up again after a failure
	static   bool
	client   *http.Client
	algs     []string
	cooldown time.Duration
	maxStale time.Duration
	now      func() time.Time

	set atomic.Pointer[keySet]

	mu          sync.Mutex    // guards the fields below
	lastAttempt time.Time     // start of the latest fetch
	lastErr     error         // its failure, nil after a success
	inflight    chan struct{} // closed when the running fetch ends; nil when none runs
}

// current returns a key set that is fresh and, when kid is not empty, knows kid if any
// fetch allowed now can make it so.
//
// A request waits for the network only when the set it holds cannot answer it: no set yet,
// one past MaxStale, or one without the token's kid. A stale set that knows the kid is
// served at once while a single fetch refreshes it in the background, so an issuer that is
// slow to answer does not stall traffic, and a waiting request gives up when its context
// ends.
func (s *jwksSource) current(ctx context.Context, kid string) (*keySet, error) {
	now := s.now()
	ks := s.set.Load()
	if s.static || ks != nil && now.Before(ks.expires) && ks.lookup(kid) != nil {
		return ks, nil
	}
	s.mu.Lock()
	ks = s.set.Load()
	fresh := ks != nil && now.Before(ks.expires)
	if fresh && ks.lookup(kid) != nil {
		s.mu.Unlock()
		return ks, nil // another request refreshed meanwhile
	}
	usable := ks != nil && now.Before(ks.expires.Add(s.maxStale))
	wait := s.inflight
	if wait == nil {
		if !s.lastAttempt.IsZero() && now.Sub(s.lastAttempt) < s.cooldown {
			// Unknown kids and a failing issuer must not turn every request into a fetch.
			err := s.lastErr
			s.mu.Unlock()
			if usable {
				return ks, nil
			}
			return nil, fmt.Errorf("JWKS of %s unavailable: %w", s.issuer, err)
		}
		s.lastAttempt = now
		wait = make(chan struct{})
		s.inflight = wait
		// The fetch serves every waiting request, so no caller's cancellation aborts it.
		go s.refresh(context.WithoutCancel(ctx), now, wait)
	}
	s.mu.Unlock()
	if usable && ks.lookup(kid) != nil {
		return ks, nil // stale but within MaxStale: serve it while the refresh runs
	}
	select {
	case <-wait:
	case <-ctx.Done():
		return nil, fmt.Errorf("JWKS of %s: %w", s.issuer, ctx.Err())
	}
	s.mu.Lock()
	err := s.lastErr
	s.mu.Unlock()
	if next := s.set.Load(); next != nil && now.Before(next.expires.Add(s.maxStale)) {
		return next, nil // the new set, or the last good one through an outage
	}
	return nil, fmt.Errorf("JWKS of %s unavailable: %w", s.issuer, err)
}

// refresh fetches the key set, publishes it or records the failure, and closes done. The set
// is dated from started, when the refresh was asked for: its age counts from then however
// long the issuer took to answer, so a slow fetch never extends how long keys are trusted.
func (s *jwksSource) refresh(ctx context.Context, started time.Time, done chan struct{}) {
	next, err := s.fetch(ctx, started)
	s.mu.Lock()
	s.lastErr = err
	if err == nil {
		s.set.Store(next)
	}
	s.inflight = nil
	s.mu.Unlock()
	close(done)
}

func (s *jwksSource) fetch(ctx context.Context, now time.Time) (*keySet, error) {
	ctx, cancel := context.WithTimeout(ctx, fetchTimeout)
	defer cancel()
	if s.jwksURL == "" {
		u, err := s.discoverJWKS(ctx)
		if err != nil {
			return nil, err
		}
		s.jwksURL = u
	}
	body, header, err := s.get(ctx, s.jwksURL)
	if err != nil {
		if s.discover {
			s.jwksURL = "" // the issuer may have moved its keys
		}
		return nil, err
	}
	keys, err := parseJWKS(body, s.algs)
	if err != nil {
		return nil, err
	}
	return &keySet{keys: keys, fetched: now, expires: now.Add(cacheTTL(header))}, nil
}

// discoverJWKS reads the OpenID Connect discovery document and returns its jwks_uri. The
// document must name the configured issuer exactly (OpenID Connect Discovery §4.3), so a
// document served for another issuer is not trusted.
func (s *jwksSource) discoverJWKS(ctx context.Context) (string, error) {
	body, _, err := s.get(ctx, strings.TrimSuffix(s.issuer, "/")+discoveryDocPath)
	if err != nil {
		return "", err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return "", fmt.Errorf("discovery document: %w", err)
	}
	if doc.Issuer != s.issuer {
		return "", fmt.Errorf("discovery document names issuer %q, want %q", doc.Issuer, s.issuer)
	}
	if err := checkFetchURL(doc.JWKSURI); err != nil {
		return "", fmt.Errorf("discovery document jwks_uri: %w", err)
	}
	return doc.JWKSURI, nil
}

func (s *jwksSource) get(ctx context.Context, u string) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := s.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("GET %s: %w", u, err)
	}
	if len(body) > maxJWKSBytes {
		return nil, nil, fmt.Errorf("GET %s: response larger than %d bytes", u, maxJWKSBytes)
	}
	return body, resp.Header, nil
}

// cacheTTL reads max-age from Cache-Control; no-store and no-cache mean the minimum.
func cacheTTL(h http.Header) time.Duration {
	ttl := defaultJWKSTTL
	for _, v := range h.Values("Cache-Control") {
		for _, d := range strings.Split(v, ",") {
			d = strings.ToLower(strings.TrimSpace(d))
			switch {
			case d == "no-store" || d == "no-cache":
				return minJWKSTTL
			case strings.HasPrefix(d, "max-age="):
				if n, err := strconv.ParseInt(strings.Trim(d[len("max-age="):], `"`), 10, 64); err == nil && n >= 0 {
					ttl = time.Duration(min(n, int64(maxJWKSTTL/time.Second))) * time.Second
				}
			}
		}
	}
	return min(max(ttl, minJWKSTTL), maxJWKSTTL)
}

// checkFetchURL accepts https URLs, and http only to a loopback host (a sidecar, a test
// server): key material fetched in clear could be replaced by anyone on the path.
func checkFetchURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	switch {
	case u.Scheme == "https" && u.Host != "":
		return nil
	case u.Scheme == "http" && isLoopback(u.Hostname()):
		return nil
	}
	return errors.New("must be an https URL (http only to loopback): " + raw)
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
