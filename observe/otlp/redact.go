package otlp

import (
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
)

// String describes c with header values redacted: headers usually carry a vendor's API key,
// and configs end up in logs and panics.
func (c Config) String() string {
	return fmt.Sprintf("otlp.Config{Endpoint:%q Insecure:%v Headers:[%s] Timeout:%v MetricInterval:%v Conn:%v NoTraces:%v NoMetrics:%v}",
		c.Endpoint, c.Insecure, strings.Join(c.headerNames(), " "), c.Timeout, c.MetricInterval, c.Conn != nil, c.NoTraces, c.NoMetrics)
}

// LogValue is the slog form of String.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("endpoint", c.Endpoint),
		slog.Bool("insecure", c.Insecure),
		slog.Any("headers", c.headerNames()),
		slog.Duration("timeout", c.Timeout),
		slog.Duration("metric_interval", c.MetricInterval),
	)
}

func (c Config) headerNames() []string {
	names := slices.Sorted(maps.Keys(c.Headers))
	for i, n := range names {
		names[i] = n + "=REDACTED"
	}
	return names
}
