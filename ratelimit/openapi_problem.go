package ratelimit

import (
	"net/http"
	"reflect"
	"strconv"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/internal/problem"
)

// rateLimitProblem is the documented schema of a [Problem] body: huma's ErrorModel with the
// violated-policies extension member (RFC 9457 §3.2). ErrorModel forbids members it does not
// list, so a refusal documented with it would be off-contract. $schema is listed because the
// same response also documents other 429s of the service (an authentication throttle's),
// whose ErrorModel bodies huma links to their schema.
type rateLimitProblem struct {
	Schema string `json:"$schema,omitempty" format:"uri" readOnly:"true" doc:"A URL to the JSON Schema for this object."`
	huma.ErrorModel
	ViolatedPolicies []string `json:"violated-policies,omitempty" doc:"The names of the policies that refused the request, as in the RateLimit header."`
}

// Legacy header names, sent with Config.LegacyHeaders.
const (
	headerLegacyLimit     = "X-RateLimit-Limit"
	headerLegacyRemaining = "X-RateLimit-Remaining"
	headerLegacyReset     = "X-RateLimit-Reset"
)

// document completes what the [Limit] and [Quota] modifiers documented with what only the
// Limiter knows, once huma has defined every response of op: the 400 of a cost no policy
// admits, the QuotaStatus response, the problem schema of refusals, and the RateLimit
// headers, which every response that passed the limiter carries (a handler's 404 as much as
// a 200).
func (l *Limiter) document(oapi *huma.OpenAPI, op *huma.Operation, o *operationPolicy) {
	problem.ErrorResponse(oapi, op, http.StatusBadRequest, "")
	refusals := []int{http.StatusTooManyRequests}
	if l.quotaStatus != http.StatusTooManyRequests && l.hasQuota(o) {
		r := problem.ErrorResponse(oapi, op, l.quotaStatus, "")
		r.Description = "A calendar quota is used up (" + TypeQuotaExceeded + "). RateLimit says which; Retry-After says when it renews."
		problem.Header(r, HeaderRetryAfter, "integer", headerDocs[HeaderRetryAfter])
		refusals = append(refusals, l.quotaStatus)
	}
	if _, ok := huma.NewError(0, "").(*huma.ErrorModel); ok {
		ct, errSchema := problem.ErrorSchema(oapi)
		schema := oapi.Components.Schemas.Schema(reflect.TypeFor[rateLimitProblem](), true, "RateLimitProblem")
		for _, code := range refusals {
			r := op.Responses[strconv.Itoa(code)]
			if r == nil {
				continue
			}
			if mt := r.Content[ct]; len(r.Content) <= 1 && (mt == nil || mt.Schema == nil || mt.Schema.Ref == errSchema.Ref) {
				// A new map: the content may be shared with other responses of op.
				r.Content = map[string]*huma.MediaType{ct: {Schema: schema}}
			}
		}
	}
	for _, r := range op.Responses {
		if r == nil {
			continue
		}
		addHeaders(r, HeaderRateLimit, HeaderRateLimitPolicy)
		if l.legacy {
			problem.Header(r, headerLegacyLimit, "integer", "The quota of the most restrictive policy (legacy header).")
			problem.Header(r, headerLegacyRemaining, "integer", "Units left in the most restrictive policy (legacy header).")
			problem.Header(r, headerLegacyReset, "integer", "Seconds until the most restrictive policy resets (legacy header).")
		}
	}
}

func (l *Limiter) hasQuota(o *operationPolicy) bool {
	for _, ps := range [][]policy{l.policies, o.policies} {
		for _, p := range ps {
			if p.quota {
				return true
			}
		}
	}
	return false
}
