package billing

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// UnitPrice is the price of one unit in the currency's minor unit, exact to a millionth
// (for example 0.25 pence a call). It is stored as an integer number of millionths, so
// rating never uses floating point.
type UnitPrice struct{ micros int64 }

// Minor is a unit price of n whole minor units.
func Minor(n int64) UnitPrice { return UnitPrice{micros: n * 1e6} }

// ParseUnitPrice reads a non-negative decimal number of minor units with at most six
// decimal places, such as "2", "0.25" or "0.000125".
func ParseUnitPrice(s string) (UnitPrice, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 6 || strings.ContainsAny(whole, "+-") {
		return UnitPrice{}, fmt.Errorf("billing: unit price %q: want a non-negative decimal with at most 6 places", s)
	}
	w, err := strconv.ParseInt(whole, 10, 64)
	if err != nil || w > math.MaxInt64/1_000_000 {
		return UnitPrice{}, fmt.Errorf("billing: unit price %q: want a non-negative decimal with at most 6 places", s)
	}
	var f int64
	if frac != "" {
		if strings.ContainsAny(frac, "+-") {
			return UnitPrice{}, fmt.Errorf("billing: unit price %q: want a non-negative decimal with at most 6 places", s)
		}
		if f, err = strconv.ParseInt(frac+strings.Repeat("0", 6-len(frac)), 10, 64); err != nil {
			return UnitPrice{}, fmt.Errorf("billing: unit price %q: want a non-negative decimal with at most 6 places", s)
		}
	}
	return UnitPrice{micros: w*1e6 + f}, nil
}

// MustUnitPrice is ParseUnitPrice for constants; it panics on a malformed price.
func MustUnitPrice(s string) UnitPrice {
	p, err := ParseUnitPrice(s)
	if err != nil {
		panic(err)
	}
	return p
}

// String formats the price as a decimal without trailing zeros: "2", "0.25".
func (p UnitPrice) String() string {
	s := strconv.FormatInt(p.micros/1e6, 10)
	if f := p.micros % 1e6; f != 0 {
		s += "." + strings.TrimRight(fmt.Sprintf("%06d", f), "0")
	}
	return s
}

// IsZero reports whether the price is free.
func (p UnitPrice) IsZero() bool { return p.micros == 0 }

// MarshalText and UnmarshalText carry the price as its decimal string, in JSON and config.
func (p UnitPrice) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText parses a decimal price.
func (p *UnitPrice) UnmarshalText(b []byte) error {
	v, err := ParseUnitPrice(string(b))
	if err != nil {
		return err
	}
	*p = v
	return nil
}

// times returns q units at p, in minor units, rounded half up. It reports an overflow
// instead of wrapping.
func (p UnitPrice) times(q int64) (int64, error) {
	hi, lo := bits.Mul64(uint64(q), uint64(p.micros))
	lo, carry := bits.Add64(lo, 5e5, 0) // half a minor unit, for rounding half up
	hi += carry
	if hi >= 1e6 {
		return 0, errOverflow
	}
	v, _ := bits.Div64(hi, lo, 1e6)
	if v > math.MaxInt64 {
		return 0, errOverflow
	}
	return int64(v), nil
}

var errOverflow = errors.New("billing: amount overflows int64 minor units")

// Model is how a price turns a quantity into an amount.
type Model string

// Price models, as Stripe and Lago name them.
const (
	// PerUnit charges every unit at Unit.
	PerUnit Model = "per_unit"
	// Package charges Unit for every started block of PackageSize units (rounded up).
	Package Model = "package"
	// Graduated charges each unit at the price of the tier it falls in: the first tier's
	// units at its price, the next tier's at the next price, and so on, plus the flat
	// amount of every tier reached.
	Graduated Model = "graduated"
	// Volume charges every unit at the price of the one tier the whole quantity falls in,
	// plus that tier's flat amount.
	Volume Model = "volume"
)

// Tier is one band of a graduated or volume price.
type Tier struct {
	// UpTo is the last unit of the tier, inclusive; 0 means unbounded, and only the last
	// tier may be unbounded.
	UpTo int64 `json:"up_to"`
	// Unit is the price of each unit in the tier.
	Unit UnitPrice `json:"unit"`
	// Flat is charged once when any unit falls in the tier, in minor units.
	Flat int64 `json:"flat,omitempty"`
}

// Price charges one meter's usage per billing period.
type Price struct {
	// Meter is the metering meter the price rates ("deliveries", "sms").
	Meter string `json:"meter"`
	// Description names the charge on invoices; empty means the meter.
	Description string `json:"description,omitempty"`
	Model       Model  `json:"model"`
	// Unit is the price of a unit (PerUnit) or of a package (Package).
	Unit UnitPrice `json:"unit,omitzero"`
	// PackageSize is the number of units in a package (Package only).
	PackageSize int64 `json:"package_size,omitempty"`
	// Tiers are the bands of a Graduated or Volume price, in ascending UpTo.
	Tiers []Tier `json:"tiers,omitempty"`
	// Free units per period are not charged: they are taken off the quantity before the
	// model applies, so tier bounds and packages count billable units.
	Free int64 `json:"free,omitempty"`
}

// Validate reports whether p can rate any quantity.
func (p Price) Validate() error {
	if p.Meter == "" {
		return errors.New("billing: price without a meter")
	}
	if p.Free < 0 {
		return fmt.Errorf("billing: price of %s: negative free allowance", p.Meter)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("billing: price of %s: "+format, append([]any{p.Meter}, args...)...)
	}
	if p.Unit.micros < 0 {
		return bad("negative unit price")
	}
	switch p.Model {
	case PerUnit:
		if len(p.Tiers) > 0 || p.PackageSize != 0 {
			return bad("a per-unit price has no tiers or package size")
		}
	case Package:
		if p.PackageSize <= 0 {
			return bad("a package price needs a positive PackageSize")
		}
		if len(p.Tiers) > 0 {
			return bad("a package price has no tiers")
		}
	case Graduated, Volume:
		if len(p.Tiers) == 0 {
			return bad("a %s price needs tiers", p.Model)
		}
		if !p.Unit.IsZero() || p.PackageSize != 0 {
			return bad("a tiered price takes its unit prices from its tiers")
		}
		var prev int64
		for i, t := range p.Tiers {
			last := i == len(p.Tiers)-1
			switch {
			case t.Unit.micros < 0 || t.Flat < 0:
				return bad("tier %d has a negative price", i+1)
			case t.UpTo == 0 && !last:
				return bad("only the last tier may be unbounded (UpTo 0)")
			case t.UpTo != 0 && t.UpTo <= prev:
				return bad("tier %d: UpTo %d must exceed the previous tier's %d", i+1, t.UpTo, prev)
			case last && t.UpTo != 0:
				return bad("the last tier must be unbounded (UpTo 0), or larger usage could not be rated")
			}
			prev = t.UpTo
		}
	default:
		return bad("unknown model %q (want per_unit, package, graduated or volume)", p.Model)
	}
	return nil
}

// Rate turns a period's quantity into an invoice line's quantity, unit price, amount and
// tier breakdown. The free allowance shows as a first tier at price 0. For tiered prices
// every tier's amount is rounded to the minor unit and the line is their sum, so a line
// always equals the sum of its tiers. Rate assumes a valid price and q ≥ 0.
func (p Price) Rate(q int64) (Charge, error) {
	c := Charge{Quantity: q}
	billable := q
	if p.Free > 0 {
		free := min(q, p.Free)
		billable -= free
		if free > 0 || q == 0 {
			c.Tiers = append(c.Tiers, TierAmount{UpTo: p.Free, Quantity: free, Unit: "0"})
		}
	}
	var err error
	add := func(t TierAmount) {
		c.Tiers = append(c.Tiers, t)
		c.Amount += t.Amount
	}
	switch p.Model {
	case PerUnit:
		amt, e := p.Unit.times(billable)
		err = e
		if len(c.Tiers) > 0 && billable > 0 {
			add(TierAmount{Quantity: billable, Unit: p.Unit.String(), Amount: amt})
		} else if len(c.Tiers) == 0 {
			c.Amount = amt
		}
		c.UnitPrice = p.Unit.String()
	case Package:
		packages := (billable + p.PackageSize - 1) / p.PackageSize
		amt, e := p.Unit.times(packages)
		err = e
		c.Amount += amt
		if len(c.Tiers) > 0 && billable > 0 {
			c.Tiers = append(c.Tiers, TierAmount{Quantity: billable, Unit: p.Unit.String(), Amount: amt})
		}
		c.UnitPrice = fmt.Sprintf("%s per %d", p.Unit, p.PackageSize)
	case Graduated:
		var from int64 // billable units rated by earlier tiers (tier bounds count billable units)
		for _, t := range p.Tiers {
			if billable == 0 {
				break
			}
			n := billable
			if t.UpTo != 0 {
				n = min(n, t.UpTo-from)
			}
			if n <= 0 {
				continue
			}
			amt, e := t.Unit.times(n)
			if e != nil {
				err = e
				break
			}
			add(TierAmount{UpTo: t.UpTo, Quantity: n, Unit: t.Unit.String(), Flat: t.Flat, Amount: amt + t.Flat})
			from += n
			billable -= n
		}
	case Volume:
		if billable > 0 {
			t := p.Tiers[len(p.Tiers)-1]
			for _, tt := range p.Tiers {
				if tt.UpTo != 0 && billable <= tt.UpTo {
					t = tt
					break
				}
			}
			amt, e := t.Unit.times(billable)
			err = e
			add(TierAmount{UpTo: t.UpTo, Quantity: billable, Unit: t.Unit.String(), Flat: t.Flat, Amount: amt + t.Flat})
			c.UnitPrice = t.Unit.String()
		}
	}
	if err != nil {
		return Charge{}, fmt.Errorf("billing: rating %d units of %s: %w", q, p.Meter, err)
	}
	if len(c.Tiers) == 1 && c.UnitPrice == "" {
		c.UnitPrice = c.Tiers[0].Unit
	}
	return c, nil
}

// Charge is a rated quantity.
type Charge struct {
	Quantity  int64
	UnitPrice string // empty when tiers of different prices applied
	Amount    int64
	Tiers     []TierAmount
}
