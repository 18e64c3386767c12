package ratelimit

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strconv"

	"github.com/danielgtaylor/huma/v2"
)

// MetadataKey is the huma.Operation.Metadata key under which the operation modifiers store
// the operation's policies and cost for the middleware.
const MetadataKey = "tollgate.ratelimit"

// operationPolicy is what the modifiers record on one operation.
type operationPolicy struct {
	policies []policy
	cost     int
	err      error
}

// Limit limits an operation to r per caller (the consumer, or the client address when
// anonymous), counted separately for each operation. It documents the 429 and 503 responses
// and the RateLimit headers, and configures the middleware: what the OpenAPI document says is
// what [Limiter.Huma] enforces.
func Limit(r Rate) func(*huma.Operation) {
	if r.IsQuota() {
		return apply([]Policy{{Rate: r}}).withErr(fmt.Errorf("ratelimit: Limit(%v): use Quota for calendar quotas", r))
	}
	return Apply(Policy{Rate: r})
}

// Quota applies a calendar quota ([Daily], [Monthly]) to an operation, per caller and
// operation. A refusal is a quota-exceeded problem (see [TypeQuotaExceeded]).
func Quota(r Rate) func(*huma.Operation) {
	if !r.IsQuota() {
		return apply([]Policy{{Rate: r}}).withErr(fmt.Errorf("ratelimit: Quota(%v): use Limit for smoothing rates", r))
	}
	return Apply(Policy{Rate: r})
}

// Apply adds full policies to an operation: names, per-plan rates and custom keys. Policies
// without a Key are counted per caller and operation.
func Apply(policies ...Policy) func(*huma.Operation) { return apply(policies) }

func apply(policies []Policy) modifier {
	return func(op *huma.Operation) {
		ps, err := compile(policies)
		for i := range ps {
			ps[i].perOp = policies[i].Key == nil
		}
		update(op, func(o *operationPolicy) {
			o.policies = append(o.policies, ps...)
			o.err = errors.Join(o.err, err)
		})
	}
}

// Cost makes each call of an operation spend n units of every policy instead of one.
// [WithCost] overrides it for one request.
func Cost(n int) func(*huma.Operation) {
	return func(op *huma.Operation) {
		update(op, func(o *operationPolicy) {
			o.cost = n
			if n < 0 {
				o.err = errors.Join(o.err, errNegativeCost)
			}
		})
	}
}

// modifier is an operation modifier.
type modifier func(*huma.Operation)

func (m modifier) withErr(err error) func(*huma.Operation) {
	return func(op *huma.Operation) {
		m(op)
		update(op, func(o *operationPolicy) { o.err = errors.Join(o.err, err) })
	}
}

// update applies fn to a copy of op's policy, so that operations sharing a modifier never
// share state, and documents the responses.
func update(op *huma.Operation, fn func(*operationPolicy)) {
	o := operationPolicy{cost: 1}
	if prev, ok := op.Metadata[MetadataKey].(*operationPolicy); ok {
		o = *prev
		o.policies = append([]policy(nil), prev.policies...)
	}
	fn(&o)
	// Operations copied from a template, and huma's copies of group operations, share one
	// Metadata map: writing into it would apply this operation's policies to the others
	// (and a group modifier, which huma runs more than once, twice to each). Write to a copy.
	m := maps.Clone(op.Metadata)
	if m == nil {
		m = map[string]any{}
	}
	m[MetadataKey] = &o
	op.Metadata = m
	document(op)
}

func policyOf(op *huma.Operation) *operationPolicy {
	if op != nil {
		if o, ok := op.Metadata[MetadataKey].(*operationPolicy); ok {
			return o
		}
	}
	return &operationPolicy{cost: 1}
}

// document adds the 429 and 503 responses and the RateLimit headers to op. It runs when a
// modifier is applied and again when the operation is added to the OpenAPI document (see
// [Limiter.Huma]), because operation modifiers run before huma has created the success
// response and group modifiers after; it is idempotent.
func document(op *huma.Operation) {
	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		if op.Responses == nil {
			// huma has not built the responses yet: ask it to define the errors with the
			// service's error schema.
			op.Errors = appendMissing(op.Errors, code)
			continue
		}
		status := strconv.Itoa(code)
		resp := op.Responses[status]
		if resp == nil {
			resp = &huma.Response{Description: http.StatusText(code), Content: errorContent(op)}
			op.Responses[status] = resp
		}
		addHeaders(resp, HeaderRetryAfter)
		if code == http.StatusTooManyRequests {
			addHeaders(resp, HeaderRateLimit, HeaderRateLimitPolicy)
			if resp.Description == http.StatusText(code) {
				resp.Description = "Too Many Requests: a rate limit or quota refused the request. " +
					"RateLimit says which; Retry-After says when to try again."
			}
		}
	}
	for status, resp := range op.Responses {
		if len(status) == 3 && status[0] == '2' && resp != nil {
			addHeaders(resp, HeaderRateLimit, HeaderRateLimitPolicy)
		}
	}
}

var headerDocs = map[string]string{
	HeaderRateLimit:       `Where the caller stands with each policy (draft-ietf-httpapi-ratelimit-headers), e.g. "per-minute";r=42;t=18.`,
	HeaderRateLimitPolicy: `The policies applied to the request, e.g. "per-minute";q=60;w=60.`,
	HeaderRetryAfter:      "Seconds to wait before retrying.",
}

func addHeaders(resp *huma.Response, names ...string) {
	if resp.Headers == nil {
		resp.Headers = map[string]*huma.Param{}
	}
	for _, n := range names {
		if resp.Headers[n] == nil {
			typ := "string"
			if n == HeaderRetryAfter {
				typ = "integer"
			}
			resp.Headers[n] = &huma.Param{Description: headerDocs[n], Schema: &huma.Schema{Type: typ}}
		}
	}
}

// errorContent reuses the content of an error response huma already defined, which carries
// the service's error schema.
func errorContent(op *huma.Operation) map[string]*huma.MediaType {
	for status, r := range op.Responses {
		if r != nil && len(r.Content) > 0 && (status == "default" || status[0] == '4' || status[0] == '5') {
			return r.Content
		}
	}
	return nil
}

func appendMissing(codes []int, code int) []int {
	for _, c := range codes {
		if c == code {
			return codes
		}
	}
	return append(codes, code)
}
