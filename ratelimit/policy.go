package ratelimit

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/tollgate-dev/tollgate/auth"
)

// Policy is one named limit applied to requests: a rate (or a rate per plan) and a key that
// says whose budget a request spends.
type Policy struct {
	// Name identifies the policy in the RateLimit headers and in problem details; empty
	// means the rate's name ("per-minute", "daily"). Names must be unique among the policies
	// that apply to a request (the configured ones and the operation's or route's): [New],
	// [Limiter.Route] and operation registration refuse duplicates, since two policies of
	// one name would share a counter and send indistinguishable headers.
	Name string
	// Rate applies to callers whose plan is not listed in Plans. The zero Rate exempts them.
	Rate Rate
	// Plans overrides Rate per plan ([auth.Principal.Plan]); a zero Rate in the table
	// exempts the plan. Rate and the plans' rates are either all calendar quotas or all
	// smoothing rates: quotas are evaluated after smoothing rates, for every plan alike.
	Plans map[string]Rate
	// Key says whose budget a request spends; nil means [ByConsumer]. For policies added by
	// an operation modifier, the operation is part of the key unless Key is set, so that
	// each operation's documented limit is its own.
	Key KeyFunc
}

// Request is what a [KeyFunc] may look at.
type Request struct {
	// Operation is the OpenAPI operation id, or the route pattern for net/http.
	Operation string
	// Method and Path are the request method and URL path.
	Method, Path string
	// ClientIP is the client address as resolved with the configured trusted proxies.
	ClientIP netip.Addr
	// Header returns the first value of a request header.
	Header func(name string) string

	// header backs Header for requests the middleware builds, which make the function
	// only for a key function that may call it.
	header headerReader
}

// KeyFunc returns the key that a request spends from, or ok false when the policy does not
// apply to the request. Keys only need to be unique within one policy.
type KeyFunc func(ctx context.Context, r *Request) (key string, ok bool)

// ByConsumer keys on the authenticated consumer ([auth.FromContext]). Anonymous requests
// are keyed by client address instead ([ByIP]), so that public operations are limited too.
func ByConsumer(ctx context.Context, r *Request) (string, bool) {
	return builtinKey(keyConsumer, ctx, r)
}

// ByIP keys on the client address. IPv6 clients are keyed by their /64 network, the
// smallest block a single subscriber is normally assigned, so that rotating through the
// addresses of one network does not multiply the budget. Requests without a known address
// share one key.
func ByIP(ctx context.Context, r *Request) (string, bool) {
	return builtinKey(keyIP, ctx, r)
}

// ByPlan keys on the consumer's plan: every consumer on a plan shares one budget, which caps
// what a plan as a whole may cost. It does not apply to anonymous requests.
func ByPlan(ctx context.Context, r *Request) (string, bool) {
	return builtinKey(keyPlan, ctx, r)
}

// ByOperation keys on the operation alone: all callers share one budget, which protects a
// costly operation as a whole.
func ByOperation(ctx context.Context, r *Request) (string, bool) {
	return builtinKey(keyOperation, ctx, r)
}

// Compose keys on all of keys at once (for example a consumer on one operation). The
// policy applies only when every key function applies.
func Compose(keys ...KeyFunc) KeyFunc {
	return func(ctx context.Context, r *Request) (string, bool) {
		var b strings.Builder
		for i, k := range keys {
			s, ok := k(ctx, r)
			if !ok {
				return "", false
			}
			if i > 0 {
				b.WriteByte('|')
			}
			b.WriteString(s)
		}
		return b.String(), true
	}
}

// policy is a validated Policy.
type policy struct {
	Policy
	keyKind keyKind
	perOp   bool
	quota   bool // its rates are calendar quotas: it is evaluated after the smoothing rates
}

func compile(ps []Policy) ([]policy, error) {
	out := make([]policy, 0, len(ps))
	for _, p := range ps {
		if err := p.Rate.Validate(); err != nil {
			return nil, fmt.Errorf("ratelimit: policy %q: %w", p.Name, err)
		}
		for plan, r := range p.Plans {
			if err := r.Validate(); err != nil {
				return nil, fmt.Errorf("ratelimit: policy %q, plan %q: %w", p.Name, plan, err)
			}
		}
		if p.Name == "" {
			p.Name = p.Rate.String()
		}
		quota, err := kindOf(p)
		if err != nil {
			return nil, err
		}
		if !validName(p.Name) {
			return nil, fmt.Errorf("ratelimit: policy name %q must be printable ASCII", p.Name)
		}
		if p.Key == nil {
			p.Key = ByConsumer
		}
		out = append(out, policy{Policy: p, keyKind: kindOfKey(p.Key), quota: quota})
	}
	return out, nil
}

// kindOf reports whether p's rates are calendar quotas. A policy is either a quota or a
// smoothing rate for every plan: the order of evaluation, which keeps a refused burst from
// spending the day's quota, depends on it.
func kindOf(p Policy) (quota bool, err error) {
	seen := false
	check := func(r Rate) error {
		if r.IsZero() {
			return nil
		}
		if seen && r.IsQuota() != quota {
			return fmt.Errorf("ratelimit: policy %q mixes calendar quotas and smoothing rates; use one policy for each", p.Name)
		}
		seen, quota = true, r.IsQuota()
		return nil
	}
	if err := check(p.Rate); err != nil {
		return false, err
	}
	for _, r := range p.Plans {
		if err := check(r); err != nil {
			return false, err
		}
	}
	return quota, nil
}

// uniqueNames returns an error when two of the policies that apply to one request share a
// name: they would share one stored counter and send indistinguishable headers. Unnamed
// policies take their rate's name, so two unnamed per-minute limits collide too.
func uniqueNames(lists ...[]policy) error {
	seen := map[string]bool{}
	for _, ps := range lists {
		for _, p := range ps {
			if seen[p.Name] {
				return fmt.Errorf("ratelimit: two policies named %q apply to the same requests; give one a distinct Name", p.Name)
			}
			seen[p.Name] = true
		}
	}
	return nil
}

// validName reports whether s can be sent as a structured-field string.
func validName(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return s != ""
}

// rateFor returns the rate of p for the request's plan.
func (p *policy) rateFor(ctx context.Context) Rate {
	if len(p.Plans) > 0 {
		if pr := auth.FromContext(ctx); pr != nil {
			if r, ok := p.Plans[pr.Plan]; ok {
				return r
			}
		}
	}
	return p.Rate
}
