package ratelimit

import (
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Header names.
const (
	HeaderRateLimit       = "RateLimit"
	HeaderRateLimitPolicy = "RateLimit-Policy"
	HeaderRetryAfter      = "Retry-After"
)

// QuotaPolicy is one item of a RateLimit-Policy header: a policy the server enforces.
type QuotaPolicy struct {
	// Name identifies the policy.
	Name string
	// Quota is the number of units per window (q).
	Quota int64
	// Window is the window length (w); zero when absent.
	Window time.Duration
	// Unit is the quota unit (qu): "requests" unless the server says otherwise.
	Unit string
	// PartitionKey (pk) identifies the partition the quota applies to; nil when absent.
	PartitionKey []byte
}

// ServiceLimit is one item of a RateLimit header: where the client stands with one policy.
type ServiceLimit struct {
	// Policy is the name of the policy the item reports on.
	Policy string
	// Remaining is the number of units left (r).
	Remaining int64
	// Reset is how long until the quota resets (t); -1 when the server did not say.
	Reset time.Duration
	// PartitionKey (pk) identifies the partition; nil when absent.
	PartitionKey []byte
}

// ParseRateLimit parses the value of a RateLimit header (draft-ietf-httpapi-ratelimit-headers),
// such as `"per-minute";r=50;t=30, "daily";r=900;t=3600`. Several header lines are joined with
// ", " before parsing. Unknown parameters are ignored, as the draft requires; an item without
// r is an error.
func ParseRateLimit(v string) ([]ServiceLimit, error) {
	return parseItems(v, func(it sfItem) (ServiceLimit, error) {
		sl := ServiceLimit{Policy: it.value, Reset: -1, Remaining: -1}
		for _, p := range it.params {
			switch {
			case p.key == "r" && p.kind == 'i' && p.num >= 0:
				sl.Remaining = p.num
			case p.key == "t" && p.kind == 'i' && p.num >= 0:
				sl.Reset = time.Duration(p.num) * time.Second
			case p.key == "pk" && p.kind == 'b':
				sl.PartitionKey = p.bytes
			case p.key == "r" || p.key == "t" || p.key == "pk":
				return sl, fmt.Errorf("%w: invalid %s for %q", errSyntax, p.key, it.value)
			}
		}
		if sl.Remaining < 0 {
			return sl, fmt.Errorf("%w: item %q has no r", errSyntax, it.value)
		}
		return sl, nil
	})
}

// ParseRateLimitPolicy parses the value of a RateLimit-Policy header, such as
// `"per-minute";q=100;w=60`. An item without q is an error.
func ParseRateLimitPolicy(v string) ([]QuotaPolicy, error) {
	return parseItems(v, func(it sfItem) (QuotaPolicy, error) {
		qp := QuotaPolicy{Name: it.value, Quota: -1, Unit: "requests"}
		for _, p := range it.params {
			switch {
			case p.key == "q" && p.kind == 'i' && p.num >= 0:
				qp.Quota = p.num
			case p.key == "w" && p.kind == 'i' && p.num >= 0:
				qp.Window = time.Duration(p.num) * time.Second
			case p.key == "qu" && p.kind == 's':
				qp.Unit = p.str
			case p.key == "pk" && p.kind == 'b':
				qp.PartitionKey = p.bytes
			case p.key == "q" || p.key == "w" || p.key == "qu" || p.key == "pk":
				return qp, fmt.Errorf("%w: invalid %s for %q", errSyntax, p.key, it.value)
			}
		}
		if qp.Quota < 0 {
			return qp, fmt.Errorf("%w: item %q has no q", errSyntax, it.value)
		}
		return qp, nil
	})
}

func parseItems[T any](v string, conv func(sfItem) (T, error)) ([]T, error) {
	items, err := parseList(v)
	if err != nil {
		return nil, err
	}
	out := make([]T, 0, len(items))
	for _, it := range items {
		t, err := conv(it)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// SetHeaders writes the RateLimit-Policy and RateLimit fields for d, with Retry-After when
// the request was refused, and the legacy X-RateLimit fields when legacy is set. now dates
// the calendar windows advertised for quotas.
func (d Decision) SetHeaders(h http.Header, now time.Time, legacy bool) {
	f := d.fields(now, legacy)
	for _, kv := range f.kv[:f.n] {
		h[kv[0]] = []string{kv[1]}
	}
}

// canonical forms of the header names, as http.Header keys them: writing these spares net/http
// a canonicalisation (and an allocation) per request.
var (
	canonRateLimit       = http.CanonicalHeaderKey(HeaderRateLimit)
	canonRateLimitPolicy = http.CanonicalHeaderKey(HeaderRateLimitPolicy)
	canonLegacyLimit     = http.CanonicalHeaderKey(headerLegacyLimit)
	canonLegacyRemaining = http.CanonicalHeaderKey(headerLegacyRemaining)
	canonLegacyReset     = http.CanonicalHeaderKey(headerLegacyReset)
)

// headerFields are the header fields of a decision, in an array so that building them
// allocates only their values.
type headerFields struct {
	kv [6][2]string
	n  int
}

func (f *headerFields) add(k, v string) {
	f.kv[f.n] = [2]string{k, v}
	f.n++
}

func (d Decision) fields(now time.Time, legacy bool) headerFields {
	var f headerFields
	if len(d.Policies) == 0 {
		return f
	}
	// Big enough for a few policies on the stack; string() copies out of them.
	var polBuf, limBuf [128]byte
	pol, lim := polBuf[:0], limBuf[:0]
	for i, p := range d.Policies {
		if i > 0 {
			pol, lim = append(pol, ", "...), append(lim, ", "...)
		}
		pol = appendString(pol, p.Name)
		pol = append(pol, ";q="...)
		pol = strconv.AppendInt(pol, p.Rate.Quota, 10)
		pol = append(pol, ";w="...)
		pol = strconv.AppendInt(pol, p.Rate.windowSeconds(now), 10)
		lim = appendString(lim, p.Name)
		lim = append(lim, ";r="...)
		lim = strconv.AppendInt(lim, max(p.Remaining, 0), 10)
		lim = append(lim, ";t="...)
		lim = strconv.AppendInt(lim, ceilSeconds(p.ResetAfter), 10)
	}
	f.add(canonRateLimitPolicy, string(pol))
	f.add(canonRateLimit, string(lim))
	if !d.Allowed {
		f.add(HeaderRetryAfter, retryAfter(d.RetryAfter))
	}
	if legacy {
		m := d.mostRestrictive()
		f.add(canonLegacyLimit, itoa(m.Rate.Quota))
		f.add(canonLegacyRemaining, itoa(max(m.Remaining, 0)))
		f.add(canonLegacyReset, itoa(ceilSeconds(m.ResetAfter)))
	}
	return f
}

// mostRestrictive is the refused policy with the longest wait, or the policy with the
// fewest units left.
func (d Decision) mostRestrictive() PolicyResult {
	m := d.Policies[0]
	for _, p := range d.Policies[1:] {
		switch {
		case m.Allowed && !p.Allowed,
			m.Allowed == p.Allowed && !p.Allowed && p.RetryAfter > m.RetryAfter,
			m.Allowed == p.Allowed && p.Allowed && p.Remaining < m.Remaining:
			m = p
		}
	}
	return m
}

// retryAfter formats a wait in whole seconds, at least one: a client told "0" would retry at
// once and be refused again.
func retryAfter(d time.Duration) string {
	return itoa(max(ceilSeconds(d), 1))
}
