package billing

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
)

// Plan is one published version of a plan: its recurring fee, its usage prices, and what it
// entitles a consumer to. A published version never changes; a new price is a new Version,
// and subscribers stay on theirs until they are moved.
type Plan struct {
	// Key identifies the plan across versions ("free", "starter"): lowercase letters,
	// digits, '-' and '_'.
	Key string `json:"key"`
	// Version starts at 1.
	Version     int    `json:"version"`
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Currency is the ISO 4217 code of every amount in the plan ("GBP").
	Currency string `json:"currency"`
	// Fee is charged per billing period, in minor units, prorated for the part of a period
	// spent on the plan.
	Fee int64 `json:"fee"`
	// Prices rate metered usage, one per meter.
	Prices []Price `json:"prices,omitempty"`
	// Features are the boolean entitlements the plan grants, checked by [Entitled].
	Features []string `json:"features,omitempty"`
	// Limits are the units of a meter included per billing period; [Catalog.Quota] turns
	// them into rate-limit quotas, so the plan's declaration is the limit enforced.
	Limits map[string]int64 `json:"limits,omitempty"`
	// Scopes are the API scopes a consumer's keys may carry on this plan; empty means no
	// restriction.
	Scopes []string `json:"scopes,omitempty"`
	// TrialDays is the length of a free trial when a consumer starts on the plan; during a
	// trial neither the fee nor usage is charged.
	TrialDays int `json:"trial_days,omitempty"`
	// Hidden plans are not offered to consumers; existing subscribers keep them and
	// providers can still assign them.
	Hidden bool `json:"hidden,omitempty"`
}

var (
	planKeyPattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	currencyPattern = regexp.MustCompile(`^[A-Z]{3}$`)
)

// Validate reports the first reason p cannot be published.
func (p Plan) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("billing: plan %q v%d: "+format, append([]any{p.Key, p.Version}, args...)...)
	}
	switch {
	case !planKeyPattern.MatchString(p.Key):
		return bad("key must be 1-63 lowercase letters, digits, '-' or '_'")
	case p.Version < 1:
		return bad("version must be 1 or more")
	case p.Name == "":
		return bad("needs a name")
	case !currencyPattern.MatchString(p.Currency):
		return bad("currency %q is not an ISO 4217 code such as GBP", p.Currency)
	case p.Fee < 0:
		return bad("negative fee")
	case p.TrialDays < 0 || p.TrialDays > 366:
		return bad("trial of %d days", p.TrialDays)
	}
	seen := map[string]bool{}
	for _, pr := range p.Prices {
		if err := pr.Validate(); err != nil {
			return bad("%w", err)
		}
		if seen[pr.Meter] {
			return bad("two prices for meter %q", pr.Meter)
		}
		seen[pr.Meter] = true
	}
	for m, n := range p.Limits {
		if m == "" || n < 0 {
			return bad("limit %q: %d", m, n)
		}
	}
	for _, f := range p.Features {
		if f == "" {
			return bad("empty feature name")
		}
	}
	return nil
}

// HasFeature reports whether the plan grants feature.
func (p *Plan) HasFeature(feature string) bool { return slices.Contains(p.Features, feature) }

// Summary is what consumers are shown of the plan.
func (p *Plan) Summary() PlanSummary {
	return PlanSummary{
		Key: p.Key, Version: p.Version, Name: p.Name, Description: p.Description,
		Fee: Money{Amount: p.Fee, Currency: p.Currency}, Features: p.Features, Limits: p.Limits, Scopes: p.Scopes,
	}
}

// ErrPlanConflict reports an attempt to publish a different plan under a version that is
// already published.
var ErrPlanConflict = errors.New("billing: this plan version is published with other content; publish a new version")
