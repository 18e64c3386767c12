package billing_test

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/tollgate-dev/tollgate/billing"
)

var up = billing.MustUnitPrice

// Golden amounts, in cents, from the worked examples of public pricing documentation,
// each recomputed by hand in the comment.
func TestPriceGolden(t *testing.T) {
	t.Parallel()
	// Lago's graduated example: $1 for each of the first 100 calls, $0.50 for the next
	// 100, $0.10 beyond. 250 calls = 100×1 + 100×0.50 + 50×0.10 = $155.
	lagoGraduated := billing.Price{Meter: "calls", Model: billing.Graduated, Tiers: []billing.Tier{
		{UpTo: 100, Unit: up("100")}, {UpTo: 200, Unit: up("50")}, {Unit: up("10")},
	}}
	// Lago's volume example: four tiers with a $10 flat fee each; 65,000 calls fall in the
	// 50,001–100,000 tier at $0.0006: 65,000×0.0006 + 10 = $49.
	lagoVolume := billing.Price{Meter: "calls", Model: billing.Volume, Tiers: []billing.Tier{
		{UpTo: 10_000, Unit: up("0.1"), Flat: 1000}, {UpTo: 50_000, Unit: up("0.08"), Flat: 1000},
		{UpTo: 100_000, Unit: up("0.06"), Flat: 1000}, {Unit: up("0.04"), Flat: 1000},
	}}
	// A three-tier API price (Zuplo's and Autumn's guides use the same shape): 1,000 at
	// $0.10, 9,000 at $0.05, the rest at $0.01. 15,000 = 100 + 450 + 50 = $600 graduated,
	// and 15,000×0.01 = $150 by volume.
	tiers := []billing.Tier{{UpTo: 1000, Unit: up("10")}, {UpTo: 10_000, Unit: up("5")}, {Unit: up("1")}}
	// Autumn's: 1,000 at $0.01, 9,000 at $0.008, the rest $0.005: 15,000 = 10+72+25 = $107.
	autumn := billing.Price{Meter: "requests", Model: billing.Graduated, Tiers: []billing.Tier{
		{UpTo: 1000, Unit: up("1")}, {UpTo: 10_000, Unit: up("0.8")}, {Unit: up("0.5")},
	}}
	// Package: $5 per started block of 100 units: 110 units = 2 blocks = $10.
	pack := billing.Price{Meter: "users", Model: billing.Package, Unit: up("500"), PackageSize: 100}

	for _, tc := range []struct {
		name  string
		price billing.Price
		qty   int64
		want  int64
		tiers []int64 // per-tier amounts, when tiers show
	}{
		{"lago graduated 250", lagoGraduated, 250, 15_500, []int64{10_000, 5000, 500}},
		{"lago graduated 100", lagoGraduated, 100, 10_000, []int64{10_000}},
		{"lago graduated 0", lagoGraduated, 0, 0, nil},
		{"lago volume 65000", lagoVolume, 65_000, 4900, []int64{4900}},
		{"lago volume 10000 (tier edge)", lagoVolume, 10_000, 2000, []int64{2000}},
		{"lago volume 10001", lagoVolume, 10_001, 1000 + 800, []int64{1800}},
		{"graduated 15000", billing.Price{Meter: "m", Model: billing.Graduated, Tiers: tiers}, 15_000, 60_000, []int64{10_000, 45_000, 5000}},
		{"volume 15000", billing.Price{Meter: "m", Model: billing.Volume, Tiers: tiers}, 15_000, 15_000, []int64{15_000}},
		{"autumn 15000", autumn, 15_000, 10_700, []int64{1000, 7200, 2500}},
		{"package 110", pack, 110, 1000, nil},
		{"package 100", pack, 100, 500, nil},
		{"package 0", pack, 0, 0, nil},
		{"per unit 2.5p × 3", billing.Price{Meter: "m", Model: billing.PerUnit, Unit: up("2.5")}, 3, 8, nil},   // 7.5 rounds half up
		{"per unit 0.25p × 1", billing.Price{Meter: "m", Model: billing.PerUnit, Unit: up("0.25")}, 1, 0, nil}, // 0.25 rounds down
		{"per unit free 1000", billing.Price{Meter: "m", Model: billing.PerUnit, Unit: up("2"), Free: 1000}, 1500, 1000, []int64{0, 1000}},
		{"per unit within free", billing.Price{Meter: "m", Model: billing.PerUnit, Unit: up("2"), Free: 1000}, 800, 0, []int64{0}},
		{"package after free", billing.Price{Meter: "m", Model: billing.Package, Unit: up("100"), PackageSize: 10, Free: 5}, 16, 200, []int64{0, 200}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			require.NoError(t, tc.price.Validate())
			c, err := tc.price.Rate(tc.qty)
			require.NoError(t, err)
			assert.Equal(t, tc.want, c.Amount)
			assert.Equal(t, tc.qty, c.Quantity)
			var amounts []int64
			for _, ta := range c.Tiers {
				amounts = append(amounts, ta.Amount)
			}
			assert.Equal(t, tc.tiers, amounts)
		})
	}
}

func TestPriceValidate(t *testing.T) {
	t.Parallel()
	for name, p := range map[string]billing.Price{
		"no meter":         {Model: billing.PerUnit},
		"unknown model":    {Meter: "m", Model: "stairstep"},
		"package size":     {Meter: "m", Model: billing.Package, Unit: up("1")},
		"no tiers":         {Meter: "m", Model: billing.Graduated},
		"bounded last":     {Meter: "m", Model: billing.Volume, Tiers: []billing.Tier{{UpTo: 10, Unit: up("1")}}},
		"unbounded middle": {Meter: "m", Model: billing.Graduated, Tiers: []billing.Tier{{Unit: up("1")}, {Unit: up("1")}}},
		"descending":       {Meter: "m", Model: billing.Graduated, Tiers: []billing.Tier{{UpTo: 10}, {UpTo: 5}, {}}},
		"negative flat":    {Meter: "m", Model: billing.Graduated, Tiers: []billing.Tier{{Flat: -1}}},
		"negative free":    {Meter: "m", Model: billing.PerUnit, Free: -1},
		"tiers on unit":    {Meter: "m", Model: billing.PerUnit, Tiers: []billing.Tier{{}}},
	} {
		assert.Error(t, p.Validate(), name)
	}
}

func TestUnitPrice(t *testing.T) {
	t.Parallel()
	for _, s := range []string{"0", "2", "2.5", "0.25", "0.000125", "123456.000001"} {
		p, err := billing.ParseUnitPrice(s)
		require.NoError(t, err, s)
		assert.Equal(t, s, p.String())
		b, err := p.MarshalText()
		require.NoError(t, err)
		var back billing.UnitPrice
		require.NoError(t, back.UnmarshalText(b))
		assert.Equal(t, p, back)
	}
	assert.Equal(t, "2.5", up("2.500000").String())
	for _, s := range []string{"", "-1", "1.0000001", "abc", "1.-5", "+1", ".5", "1e3", "99999999999999999"} {
		_, err := billing.ParseUnitPrice(s)
		assert.Error(t, err, s)
	}
	// Overflow is an error, never a wrapped amount.
	_, err := billing.Price{Meter: "m", Model: billing.PerUnit, Unit: up("9000000000000")}.Rate(1 << 40)
	assert.Error(t, err)
}

// Properties: graduated pricing equals the sum of its tiers, and rating per unit is
// additive over disjoint sets of events.
func TestPriceProperties(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + r.IntN(4)
		var tiers []billing.Tier
		var bound int64
		for i := range n {
			t := billing.Tier{Unit: billing.Minor(r.Int64N(50)), Flat: r.Int64N(3) * 100}
			if i < n-1 {
				bound += 1 + r.Int64N(1000)
				t.UpTo = bound
			}
			tiers = append(tiers, t)
		}
		p := billing.Price{Meter: "m", Model: billing.Graduated, Tiers: tiers, Free: r.Int64N(3) * 50}
		require.NoError(t, p.Validate())
		q := r.Int64N(5000)
		c, err := p.Rate(q)
		require.NoError(t, err)
		var sum, units int64
		for _, ta := range c.Tiers {
			sum += ta.Amount
			units += ta.Quantity
		}
		require.Equal(t, c.Amount, sum, "graduated amount is the sum of its tiers: %+v q=%d", p, q)
		require.Equal(t, q, units, "every unit lands in exactly one tier (the free one included)")

		// Whole-unit per-unit prices are additive over disjoint event sets.
		pu := billing.Price{Meter: "m", Model: billing.PerUnit, Unit: billing.Minor(r.Int64N(100))}
		a, b := r.Int64N(10_000), r.Int64N(10_000)
		ca, _ := pu.Rate(a)
		cb, _ := pu.Rate(b)
		cab, _ := pu.Rate(a + b)
		require.Equal(t, cab.Amount, ca.Amount+cb.Amount)
	}
}
