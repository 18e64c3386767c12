package billing

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
)

// Values handed out by stores are copies: a caller editing one changes nothing stored.

func clonePlan(p Plan) Plan {
	p.Prices = slices.Clone(p.Prices)
	for i := range p.Prices {
		p.Prices[i].Tiers = slices.Clone(p.Prices[i].Tiers)
	}
	p.Features = slices.Clone(p.Features)
	p.Limits = maps.Clone(p.Limits)
	p.Scopes = slices.Clone(p.Scopes)
	return p
}

func cloneSub(s Subscription) Subscription {
	s.Phases = slices.Clone(s.Phases)
	s.LimitsReached = slices.Clone(s.LimitsReached)
	return s
}

func cloneInvoice(inv Invoice) Invoice {
	inv.Lines = slices.Clone(inv.Lines)
	for i := range inv.Lines {
		inv.Lines[i].Tiers = slices.Clone(inv.Lines[i].Tiers)
		inv.Lines[i].TraceIDs = slices.Clone(inv.Lines[i].TraceIDs)
	}
	return inv
}

// equalJSON compares two values by their JSON encoding, which sorts map keys and is the
// form every store keeps: times compare by instant and zone offset as stored.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

func jsonEncode(w interface{ Write([]byte) (int, error) }, v any) error {
	return json.NewEncoder(w).Encode(v)
}
