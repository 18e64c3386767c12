package portal

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tollgate-dev/tollgate/metering"
)

// Day is the usage of one UTC day, by meter.
type Day struct {
	Date  string           `json:"date" doc:"UTC date" example:"2026-03-14"`
	Usage map[string]int64 `json:"usage" doc:"Units per meter; every meter of the range is present, 0 when unused"`
}

type usageInput struct {
	From  string `query:"from" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"First UTC day (inclusive); default 29 days before to"`
	To    string `query:"to" pattern:"^[0-9]{4}-[0-9]{2}-[0-9]{2}$" doc:"Last UTC day (inclusive); default today"`
	Meter string `query:"meter" maxLength:"64" doc:"Only this meter"`
}

// UsageDays is a consumer's usage per day over a range.
type UsageDays struct {
	Consumer string   `json:"consumer"`
	Meters   []string `json:"meters" doc:"Meters with usage in the range, sorted"`
	Days     []Day    `json:"days" doc:"One entry per day of the range, oldest first"`
}

type usageOutput struct {
	Body UsageDays
}

// RegisterUsage adds GET /me/usage/days: the caller's usage per meter per day over a date
// range (the last 30 days by default, at most MaxRange days), zeros included, for charts.
func (p *Portal) RegisterUsage(api huma.API, modifiers ...func(*huma.Operation)) {
	op := operation(modifiers, "Usage")
	huma.Register(api, op("getMyUsageDays", http.MethodGet, "/me/usage/days", "Your usage per day, for charts"),
		func(ctx context.Context, in *usageInput) (*usageOutput, error) {
			caller, err := callerOf(ctx)
			if err != nil {
				return nil, err
			}
			return p.days(ctx, caller.Consumer, in)
		})
}

func (p *Portal) days(ctx context.Context, consumer string, in *usageInput) (*usageOutput, error) {
	to := p.now().UTC().Truncate(24 * time.Hour)
	var err error
	if in.To != "" {
		if to, err = time.Parse(time.DateOnly, in.To); err != nil {
			return nil, huma.Error422UnprocessableEntity("to is not a date", &huma.ErrorDetail{Location: "query.to", Value: in.To})
		}
	}
	from := to.AddDate(0, 0, -29)
	if in.From != "" {
		if from, err = time.Parse(time.DateOnly, in.From); err != nil {
			return nil, huma.Error422UnprocessableEntity("from is not a date", &huma.ErrorDetail{Location: "query.from", Value: in.From})
		}
	}
	n := int(to.Sub(from)/(24*time.Hour)) + 1
	switch {
	case n < 1:
		return nil, huma.Error422UnprocessableEntity("from is after to", &huma.ErrorDetail{Location: "query.from", Value: in.From})
	case n > p.maxRange:
		return nil, huma.Error422UnprocessableEntity(fmt.Sprintf("a range of %d days is over the %d allowed", n, p.maxRange),
			&huma.ErrorDetail{Location: "query.from", Value: in.From})
	}
	rows, err := p.usage.Usage(ctx, metering.UsageQuery{Consumer: consumer, Meter: in.Meter, Window: metering.Day, From: from, To: to.AddDate(0, 0, 1)})
	if err != nil {
		return nil, unavailable(err)
	}
	out := &usageOutput{}
	out.Body.Consumer = consumer
	out.Body.Meters = []string{}
	byDay := map[string]map[string]int64{}
	for _, r := range rows {
		d := r.Start.UTC().Format(time.DateOnly)
		if byDay[d] == nil {
			byDay[d] = map[string]int64{}
		}
		byDay[d][r.Meter] += r.Sum
		if !slices.Contains(out.Body.Meters, r.Meter) {
			out.Body.Meters = append(out.Body.Meters, r.Meter)
		}
	}
	slices.Sort(out.Body.Meters)
	out.Body.Days = make([]Day, 0, n)
	for i := range n {
		d := from.AddDate(0, 0, i).Format(time.DateOnly)
		u := map[string]int64{}
		for _, m := range out.Body.Meters {
			u[m] = byDay[d][m]
		}
		out.Body.Days = append(out.Body.Days, Day{Date: d, Usage: u})
	}
	return out, nil
}
