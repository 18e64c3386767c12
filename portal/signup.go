package portal

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/auth"
	"github.com/tollgate-dev/tollgate/billing"
	"github.com/tollgate-dev/tollgate/internal/clientip"
)

// SignupRequest asks for an account.
type SignupRequest struct {
	Email      string `json:"email" format:"email" maxLength:"254" doc:"Contact address of the new consumer"`
	Invitation string `json:"invitation,omitempty" maxLength:"256" doc:"Invitation token, when signup is by invitation"`
}

type signupInput struct {
	Body      SignupRequest
	peer      string
	forwarded []string
}

// Resolve records the peer address and every X-Forwarded-For line, for the handler to
// find the client with the configured trusted proxies.
func (in *signupInput) Resolve(ctx huma.Context) []error {
	in.peer = ctx.RemoteAddr()
	ctx.EachHeader(func(name, value string) {
		if http.CanonicalHeaderKey(name) == "X-Forwarded-For" {
			in.forwarded = append(in.forwarded, value)
		}
	})
	return nil
}

// SignedUp is a new account and its first key.
type SignedUp struct {
	Consumer string    `json:"consumer"`
	Key      IssuedKey `json:"key" doc:"Your first API key, shown once"`
}

type signupOutput struct {
	Body SignedUp
}

// RegisterSignup adds POST /signup when Config.Signup is set: a public operation that
// creates a consumer and its first key. Each client address may sign up
// SignupConfig.PerAddress times; with an Invitation check, a refused token answers 403 and
// counts as a failed attempt on the Throttle, which answers 429 once the address has
// failed too often. It does nothing when signup is off.
func (p *Portal) RegisterSignup(api huma.API, modifiers ...func(*huma.Operation)) {
	s := p.signup
	if s == nil {
		return
	}
	resolver := clientip.Resolver{TrustedProxies: s.TrustedProxies}
	op := operation(append(modifiers, auth.Public()), "Signup")
	huma.Register(api, withStatus(http.StatusCreated, op("signUp", http.MethodPost, "/signup", "Create an account and its first API key",
		http.StatusForbidden, http.StatusTooManyRequests)),
		func(ctx context.Context, in *signupInput) (*signupOutput, error) {
			client := resolver.ClientIP(&http.Request{RemoteAddr: in.peer, Header: http.Header{"X-Forwarded-For": in.forwarded}}).String()
			res, err := s.Limiter.Take(ctx, "signup\x00"+client, s.PerAddress, 1)
			if err != nil {
				return nil, unavailable(err)
			}
			if !res.Allowed {
				return nil, huma.ErrorWithHeaders(huma.Error429TooManyRequests("too many signups from this address"),
					http.Header{"Retry-After": {strconv.Itoa(int(max(res.RetryAfter, time.Second) / time.Second))}})
			}
			consumer := "c_" + randomHex(8)
			if s.Invitation != nil {
				c, err := s.Invitation(ctx, in.Body.Invitation)
				if err != nil || c == "" {
					if s.Throttle != nil {
						if wait, throttled := s.Throttle.Failed(ctx, client, ""); throttled {
							return nil, huma.ErrorWithHeaders(huma.Error429TooManyRequests("too many failed attempts"),
								http.Header{"Retry-After": {strconv.Itoa(int(max(wait, time.Second) / time.Second))}})
						}
					}
					return nil, huma.Error403Forbidden("invitation not valid")
				}
				consumer = c
			}
			if existing, err := p.lister.ListKeys(ctx, consumer); err != nil {
				return nil, unavailable(err)
			} else if len(existing) > 0 {
				return nil, huma.Error403Forbidden("invitation not valid")
			}
			if s.Plan != "" {
				if _, err := p.account.ChangePlan(ctx, consumer, billing.PlanChange{Plan: s.Plan}); err != nil {
					return nil, billingProblem(err)
				}
			}
			issued, err := p.keys.Create(ctx, auth.KeySpec{Consumer: consumer, Plan: s.Plan, Scopes: dedupe(s.Scopes),
				Metadata: map[string]string{"email": in.Body.Email}})
			if err != nil {
				return nil, unavailable(err)
			}
			out := &signupOutput{}
			out.Body.Consumer = consumer
			out.Body.Key = IssuedKey{Key: view(issued.Stored, p.now()), Secret: issued.Key.Reveal()}
			return out, nil
		})
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
