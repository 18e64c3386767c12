package ratelimit

import (
	"errors"
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"
)

// Problem types. Rate limiting uses the generic "about:blank" type with the 429 status;
// an exhausted quota uses the problem type defined by draft-ietf-httpapi-ratelimit-headers,
// so clients can tell "slow down" from "come back next period" without parsing text.
const (
	TypeQuotaExceeded = "https://iana.org/assignments/http-problem-types#quota-exceeded"
)

// Problem is the RFC 9457 problem detail sent with a refused request. It extends huma's
// ErrorModel with the names of the violated policies, and matches [ErrLimited] (and
// [ErrQuotaExceeded] for quotas) with errors.Is.
type Problem struct {
	*huma.ErrorModel
	// ViolatedPolicies names the policies that refused the request.
	ViolatedPolicies []string `json:"violated-policies,omitempty"`
	quota            bool
	headers          http.Header
}

// Is makes errors.Is match ErrLimited and, for quotas, ErrQuotaExceeded.
func (p *Problem) Is(target error) bool {
	return target == ErrLimited || (p.quota && target == ErrQuotaExceeded)
}

// GetHeaders returns the RateLimit and Retry-After headers of the refusal.
func (p *Problem) GetHeaders() http.Header { return p.headers }

// newErrorFunc is huma.NewError or huma.NewErrorWithContext bound to a context.
type newErrorFunc func(status int, msg string, errs ...error) huma.StatusError

// refusal builds the error for a refused decision through the service's huma error hook,
// so a custom error model applies. When the hook returns huma's own ErrorModel, the problem
// gains its type and the violated policies.
func (l *Limiter) refusal(d Decision, h http.Header, newErr newErrorFunc) error {
	violated := d.Violated()
	status, title, typ := http.StatusTooManyRequests, "", ""
	quota := d.QuotaExceeded()
	if quota {
		status, title, typ = l.quotaStatus, "Quota exceeded", TypeQuotaExceeded
	}
	detail := "rate limit exceeded: " + strings.Join(violated, ", ")
	if quota {
		detail = "quota exceeded: " + strings.Join(violated, ", ")
	}
	se := newErr(status, detail)
	em, ok := se.(*huma.ErrorModel)
	if !ok {
		return huma.ErrorWithHeaders(se, h)
	}
	if typ != "" {
		em.Type, em.Title = typ, title
	}
	return &Problem{ErrorModel: em, ViolatedPolicies: violated, quota: quota, headers: h}
}

// unavailable builds the 503 sent when the store cannot decide and fails closed.
func (l *Limiter) unavailable(err error, h http.Header, newErr newErrorFunc) error {
	wait := l.unavailableWait
	var ue *UnavailableError
	if errors.As(err, &ue) && ue.RetryAfter > 0 {
		wait = ue.RetryAfter
	}
	h.Set(HeaderRetryAfter, retryAfter(wait))
	return huma.ErrorWithHeaders(newErr(http.StatusServiceUnavailable, "rate limiting is temporarily unavailable"), h)
}
